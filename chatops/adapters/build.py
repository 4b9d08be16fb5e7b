"""Building, pushing and dropping release images with the docker SDK (ports.ImageBuilder)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import docker
import docker.errors
import requests
import urllib3.exceptions
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
_RUNNING_IN = re.compile(r" ---> Running in ([0-9a-f]{12,64})$")
# what reading the build stream raises; urllib3's own errors come through the SDK's reader
_STREAM_ERRORS = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)


def registry_of(image: str) -> str:
    """The registry host an image reference points at (`docker.io` when it names none)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


class DockerImageBuilder:
    """Builds images on one Docker Engine from a tar context, and pushes them to their registry.

    Each build's context is written to a temporary directory under `scratch` and removed
    after; its output is kept in the request's log file as it comes.

    Args:
        client: a connected client (see `chatops.adapters.docker_client.connect`).
        scratch: where build contexts are written (chatops' `workdir/builds`, whose
            leftovers retention removes); the system's temporary directory when None.
        stop_poll_seconds: how often a build asks whether it should stop.
        step_grace_seconds: how long the engine has to end a stopped build's step by
            itself before its container is removed by force.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        scratch: Path | None = None,
        stop_poll_seconds: float = 1.0,
        step_grace_seconds: float = 10.0,
    ) -> None:
        self._client = client
        self._scratch = scratch
        self._api = client.api
        self._poll = stop_poll_seconds
        self._grace = step_grace_seconds
        hooks = self._api.hooks["response"]
        if _remember_response not in hooks:
            hooks.append(_remember_response)

    def build(
        self,
        request: BuildRequest,
        *,
        output: Callable[[str], None],
        stop: Callable[[], str | None] | None = None,
    ) -> str:
        """Build `request.context` as `request.image`; stream its output; return the image id.

        Args:
            request: what to build, from which context, with which arguments and labels,
                where to keep its output and how to mask it.
            output: called with each line of build output (masked), as it comes.
            stop: asked every `stop_poll_seconds` from another thread; a reason it returns
                ends the build: its connection is cut, so the engine cancels it and removes
                the running step's container (by force, if the engine has not within
                `step_grace_seconds`).

        Raises:
            BuildError: the build failed or was stopped, with its first error (or the reason
                it was stopped) in the message and the last lines of output in `log_tail`.
            SourceControlError: `request.context` could not write the context.
        """
        # line-buffered: the web view streams the log while it is written
        with _log(request.log) as keep, self._context(request) as context_tar:
            return self._build(request, context_tar, output=output, stop=stop, keep=keep)

    @contextmanager
    def _context(self, request: BuildRequest) -> Iterator[Path]:
        """The build context, written by the request into a directory of its own, removed after."""
        if self._scratch is not None:
            self._scratch.mkdir(parents=True, exist_ok=True)
        with TemporaryDirectory(dir=self._scratch) as tmp:
            path = Path(tmp) / "context.tar"
            request.context(path)
            yield path

    def _build(
        self,
        request: BuildRequest,
        context_tar: Path,
        *,
        output: Callable[[str], None],
        stop: Callable[[], str | None] | None,
        keep: Callable[[str], object],
    ) -> str:
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        step: list[str] = []  # the container of the RUN step that runs now

        def emit(line: str) -> None:
            if found := _RUNNING_IN.match(line):
                step[:] = [found.group(1)]
            line = request.mask(line)
            keep(line + "\n")
            tail.append(line)
            output(line)

        image_id: str | None = None
        error: str | None = None
        watchdog = _Watchdog(stop, self._poll)
        try:
            with context_tar.open("rb") as context:
                encoding = "gzip" if context.read(2) == _GZIP_MAGIC else None
                context.seek(0)
                _watched.responses = []
                try:
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
                finally:
                    responses = _watched.__dict__.pop("responses", [])
                with watchdog.watching(responses[-1] if responses else None):
                    for line, aux_id, line_error in _lines(stream):
                        if line is not None:
                            emit(line)
                        image_id = aux_id or image_id
                        error = error or line_error
        except _STREAM_ERRORS as exc:
            if watchdog.reason is None:
                error = error or first_line(exc)
                emit(f"error: {error}")
                engine_said_no = isinstance(exc, docker.errors.APIError)
                raise BuildError(
                    f"the build of {request.image} failed: {error}",
                    log_tail="\n".join(tail),
                    hint=_FIX_HINT if engine_said_no else _ENGINE_HINT,
                ) from exc
        if watchdog.reason is not None:
            self._end_step(step[0] if step else None)
            if image_id is not None:  # it finished just as it was stopped
                self.remove(request.image)
            emit(f"stopped: {watchdog.reason}")
            raise BuildError(
                f"the build of {request.image} was stopped: {watchdog.reason}",
                log_tail="\n".join(tail),
            )
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

    def _end_step(self, container: str | None) -> None:
        """Make sure the step a stopped build was running ends on the engine.

        The engine cancels a build whose client went away and removes its step's
        container; should it not within the grace time, the container is removed here.
        """
        if container is None:
            return
        deadline = time.monotonic() + self._grace
        try:
            while time.monotonic() < deadline:
                state = self._api.inspect_container(container).get("State") or {}
                if not state.get("Running"):
                    return
                time.sleep(0.2)
            log.warning("the engine left build step %s running: removing it", container)
            self._api.remove_container(container, force=True)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            log.warning("could not make sure build step %s ended: %s", container, first_line(exc))

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


# The response of the build request, caught by a session hook in the thread that sent it:
# the docker SDK hands back only a generator over it, and a stopped build must cut it.
_watched = threading.local()


def _remember_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    responses = getattr(_watched, "responses", None)
    if responses is not None:
        responses.append(response)


class _Watchdog:
    """Asks `stop` every `interval` seconds on a thread of its own while a build streams.

    When `stop` gives a reason, the build's connection is shut down (urllib3's
    `shutdown()`, made for this: it wakes the read blocked on it in another thread)
    and closed, so the engine sees its client gone and cancels the build.
    """

    def __init__(self, stop: Callable[[], str | None] | None, interval: float) -> None:
        self._stop = stop
        self._interval = interval
        self._done = threading.Event()
        self.reason: str | None = None

    @contextmanager
    def watching(self, response: requests.Response | None) -> Iterator[None]:
        if self._stop is None or response is None:
            yield
            return
        thread = threading.Thread(
            target=self._run,
            args=(self._stop, response),
            name="chatops-build-watchdog",
            daemon=True,
        )
        thread.start()
        try:
            yield
        finally:
            self._done.set()
            thread.join()
            if self.reason is not None:
                response.close()

    def _run(self, stop: Callable[[], str | None], response: requests.Response) -> None:
        while not self._done.wait(self._interval):
            try:
                reason = stop()
            except Exception:
                log.exception("could not tell whether to stop a build; it goes on")
                continue
            if reason is not None:
                self.reason = reason
                _cut(response)
                return


@contextmanager
def _log(path: Path | None) -> Iterator[Callable[[str], object]]:
    """A writer of the build log at `path` (its folder made), line-buffered; none for None."""
    if path is None:
        yield lambda text: None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", buffering=1) as log_file:
        yield log_file.write


def _cut(response: requests.Response) -> None:
    try:
        response.raw.shutdown()
    except (OSError, ValueError, RuntimeError) as exc:
        # without a socket to shut down (or already closed), closing is what is left
        log.warning("could not shut the build's connection down (%s); closing it", exc)
        response.close()


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
