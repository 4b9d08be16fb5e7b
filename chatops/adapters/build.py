"""Building, pushing and dropping release images with the docker SDK (ports.ImageBuilder)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import docker
import docker.errors
import requests
from docker.utils import parse_repository_tag

from chatops.adapters.docker_client import first_line
from chatops.errors import BuildError, RegistryError
from chatops.services.ports import BuildRequest

__all__ = ["DockerImageBuilder", "registry_of"]

log = logging.getLogger(__name__)

TAIL_LINES = 20
_GZIP_MAGIC = b"\x1f\x8b"
_FIX_HINT = "fix the Dockerfile or the code at that commit, then deploy again"
_ENGINE_HINT = "check that the Docker Engine that builds images is running and reachable"


def registry_of(image: str) -> str:
    """The registry host an image reference points at (`docker.io` when it names none)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


class DockerImageBuilder:
    """Builds images on one Docker Engine from a tar context, and pushes them to their registry.

    Args:
        client: a connected client (see `chatops.adapters.docker_client.connect`).
    """

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._api = client.api

    def build(self, request: BuildRequest, *, output: Callable[[str], None]) -> str:
        """Build `request.context_tar` as `request.image`; stream its output; return the image id.

        Args:
            request: what to build, from which context, with which arguments and labels.
            output: called with each line of build output, as it comes.

        Raises:
            BuildError: the build failed, with its first error in the message and the last
                lines of output in `log_tail`.
        """
        tail: deque[str] = deque(maxlen=TAIL_LINES)

        def emit(line: str) -> None:
            tail.append(line)
            output(line)

        image_id: str | None = None
        error: str | None = None
        try:
            with request.context_tar.open("rb") as context:
                encoding = "gzip" if context.read(2) == _GZIP_MAGIC else None
                context.seek(0)
                stream = self._api.build(
                    fileobj=context,
                    custom_context=True,
                    encoding=encoding,
                    dockerfile=request.dockerfile,
                    buildargs=dict(request.build_args),
                    labels=dict(request.labels),
                    tag=request.image,
                    rm=True,
                    forcerm=True,  # the container of a failed step too
                    decode=True,
                    timeout=None,  # a quiet RUN step may take longer than any API timeout
                )
                for line, aux_id, line_error in _lines(stream):
                    if line is not None:
                        emit(line)
                    image_id = aux_id or image_id
                    error = error or line_error
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            error = error or first_line(exc)
            emit(f"error: {error}")
            engine_said_no = isinstance(exc, docker.errors.APIError)
            raise BuildError(
                f"the build of {request.image} failed: {error}",
                log_tail="\n".join(tail),
                hint=_FIX_HINT if engine_said_no else _ENGINE_HINT,
            ) from exc
        if error is not None:
            raise BuildError(
                f"the build of {request.image} failed: {error}",
                log_tail="\n".join(tail),
                hint=_FIX_HINT,
            )
        if image_id is None:
            try:
                image_id = str(self._client.images.get(request.image).attrs["Id"])
            except docker.errors.DockerException as exc:
                raise BuildError(
                    f"the build of {request.image} ended without an image: {first_line(exc)}",
                    log_tail="\n".join(tail),
                ) from exc
        return image_id

    def push(self, image: str) -> str:
        """Push `image` to its registry; return the repository digest (`sha256:…`).

        Raises:
            RegistryError: the registry refused the push or could not be reached, naming it
                and what to check.
        """
        registry = registry_of(image)
        hint = (
            f"check that the registry {registry} is running and reachable from the Docker "
            "Engine (plain HTTP registries outside 127.0.0.0/8 must be in its "
            "insecure-registries), and that the engine may push there"
        )
        repository, tag = parse_repository_tag(image)
        digest: str | None = None
        try:
            self._client.images.get(image)
            for chunk in self._api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    raise RegistryError(
                        f"pushing {image} to {registry} failed: {_chunk_error(chunk)}", hint=hint
                    )
                aux = chunk.get("aux") or {}
                digest = aux.get("Digest") or digest
            if digest is None:
                digest = self._repo_digest(image, repository)
        except docker.errors.ImageNotFound as exc:
            raise RegistryError(
                f"cannot push {image}: there is no such image on the Docker Engine",
                hint="build it first",
            ) from exc
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise RegistryError(
                f"pushing {image} to {registry} failed: {first_line(exc)}", hint=hint
            ) from exc
        return digest

    def remove(self, image: str) -> None:
        """Drop the local tag `image`; quietly nothing when it is absent or still in use.

        A tag that is the last reference of an image a container uses stays: the engine
        refuses to leave that container's image dangling, and the tag does no harm.
        """
        try:
            self._api.remove_image(image)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            log.warning("could not remove the image tag %s: %s", image, first_line(exc))

    def _repo_digest(self, image: str, repository: str) -> str:
        digests = self._client.images.get(image).attrs.get("RepoDigests") or []
        for reference in digests:
            name, _, digest = str(reference).partition("@")
            if name == repository and digest.startswith("sha256:"):
                return digest
        raise RegistryError(
            f"the push of {image} reported no digest",
            hint=f"check the registry {registry_of(image)}",
        )


def _lines(stream: Iterable[dict[str, Any]]) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(output line, image id, error) for each piece of the engine's build stream.

    `stream` text comes in chunks that need not end at line ends; it is re-split here.
    """
    pending = ""
    for chunk in stream:
        if "stream" in chunk:
            pending += str(chunk["stream"])
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line.rstrip("\r"), None, None
        elif "error" in chunk or "errorDetail" in chunk:
            if pending:
                yield pending, None, None
                pending = ""
            error = _chunk_error(chunk)
            yield f"error: {error}", None, error
        elif "status" in chunk:
            status = " ".join(str(chunk[k]) for k in ("id", "status") if chunk.get(k))
            yield status, None, None
        elif isinstance(chunk.get("aux"), dict) and "ID" in chunk["aux"]:
            yield None, str(chunk["aux"]["ID"]), None
    if pending:
        yield pending, None, None


def _chunk_error(chunk: dict[str, Any]) -> str:
    detail = chunk.get("errorDetail")
    text = chunk.get("error") or (detail.get("message") if isinstance(detail, dict) else None)
    lines = str(text or "unknown error").strip().splitlines()
    return lines[0] if lines else "unknown error"
