"""Running releases as containers on one Docker Engine (ports.Runtime for `runtime: docker`).

Containers of (bot, env), by name:

    <bot>-<env>            the committed release (or, stop-first, the candidate until commit)
    <bot>-<env>.previous   stop-first: the release the candidate replaced, stopped, until commit
    <bot>-<env>.next       start-first: the candidate, running beside the committed one

`commit` and `restore` only look at what exists under these names, so either can be
called again after a crash at any point of `start`, and by another process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import docker
import docker.errors
import requests
from docker.types import LogConfig
from docker.utils import parse_repository_tag

from chatops.domain.catalog import Strategy
from chatops.domain.health import Health, Observation
from chatops.errors import ChatOpsError, NotFound, RuntimeFailure
from chatops.services.ports import RunSpec

__all__ = [
    "BOT_LABEL",
    "COMMIT_LABEL",
    "ENV_LABEL",
    "IMAGE_LABEL",
    "NEXT",
    "PREVIOUS",
    "RELEASE_LABEL",
    "DockerRuntime",
    "ManagedContainer",
]

BOT_LABEL = "chatops.bot"
ENV_LABEL = "chatops.env"
RELEASE_LABEL = "chatops.release"
COMMIT_LABEL = "chatops.commit"
IMAGE_LABEL = "chatops.image"
PREVIOUS = ".previous"
NEXT = ".next"

_DETAIL_CHARS = 200
_ENGINE_HINT = "check that the Docker Engine of this environment is running and reachable"
_HEALTH = {"starting": Health.STARTING, "healthy": Health.HEALTHY, "unhealthy": Health.UNHEALTHY}


class ManagedContainer(NamedTuple):
    """A committed container chatops runs, as the engine reports it."""

    bot: str
    env: str
    release: str | None
    running: bool


class DockerRuntime:
    """Runs each bot of an environment as a container `<bot>-<env>` on one Docker Engine.

    Args:
        client: a connected client (see `chatops.adapters.docker_client.connect`).
        stop_timeout: seconds a container has to exit after SIGTERM before it is killed.
        log_max_size: the json-file log's size limit per container (`10m`, …).
    """

    def __init__(
        self, client: docker.DockerClient, *, stop_timeout: int = 10, log_max_size: str = "10m"
    ) -> None:
        self._client = client
        self._api = client.api
        self._stop_timeout = stop_timeout
        self._log_max_size = log_max_size

    # ── ports.Runtime ────────────────────────────────────────────────────────

    def start(self, spec: RunSpec) -> str:
        """Start `spec` per its strategy and return the new container's id.

        stop-first stops `<bot>-<env>`, keeps it as `<bot>-<env>.previous` and starts the
        new release as `<bot>-<env>`; start-first starts it as `<bot>-<env>.next` beside
        the one that keeps running.

        Raises:
            RuntimeFailure: the image cannot be had on this engine, or the engine refused
                to create or start the container, or cannot be reached.
        """
        name = spec.name
        with _engine(f"starting {spec.image_name} as {name}"):
            self._ensure_image(spec)
            self._discard(name + NEXT)
            if spec.strategy is Strategy.START_FIRST:
                return self._run(spec, name + NEXT)
            current = self._inspect(name)
            if current is not None:
                self._stop(current)
                self._discard(name + PREVIOUS)
                self._api.rename(current["Id"], name + PREVIOUS)
            return self._run(spec, name)

    def observe(self, bot: str, env: str, handle: str | None = None) -> Observation:
        """What the container `handle` (else `<bot>-<env>`) is doing, from one inspect call.

        Raises:
            RuntimeFailure: the engine cannot be reached.
        """
        with _engine(f"inspecting {handle or _name(bot, env)}"):
            attrs = self._inspect(handle or _name(bot, env))
        if attrs is None:
            return Observation(health=Health.UNKNOWN, running=False, missing=True)
        return _observation(attrs)

    def commit(self, bot: str, env: str, handle: str) -> None:
        """Make the candidate `handle` the one `<bot>-<env>` and drop what it replaced.

        Raises:
            NotFound: the candidate container is gone.
            RuntimeFailure: the engine refused or cannot be reached.
        """
        name = _name(bot, env)
        with _engine(f"committing {name}"):
            candidate = self._inspect(handle)
            if candidate is None:
                raise NotFound(
                    f"the new container of {bot} in {env} ({handle[:12]}) is gone",
                    hint=f"deploy {bot} to {env} again",
                )
            if _container_name(candidate) != name:  # start-first: the candidate is .next
                current = self._inspect(name)
                if current is not None:
                    self._stop(current)
                    self._discard(current["Id"])
                self._api.rename(candidate["Id"], name)
            self._discard(name + PREVIOUS)

    def restore(self, bot: str, env: str, previous: RunSpec | None) -> None:
        """Drop any uncommitted candidate and run what ran before it (or nothing).

        `<bot>-<env>.previous` comes back when it exists; else `previous` is run unless
        `<bot>-<env>` already runs that release.

        Raises:
            RuntimeFailure: the engine refused or cannot be reached, or `previous`'s
                image cannot be had.
        """
        name = _name(bot, env)
        with _engine(f"restoring {name}"):
            self._discard(name + NEXT)
            kept = self._inspect(name + PREVIOUS)
            current = self._inspect(name)
            if kept is not None:
                if current is not None:  # commit drops .previous: what runs is the candidate
                    self._discard(current["Id"])
                self._api.rename(kept["Id"], name)
                self._api.start(kept["Id"])
                return
            if current is not None:
                if previous is not None and _labels(current).get(RELEASE_LABEL) == _release(
                    previous
                ):
                    self._api.start(current["Id"])  # a no-op when it runs
                    return
                self._discard(current["Id"])
            if previous is not None:
                self._ensure_image(previous)
                self._run(previous, name)

    def logs(self, bot: str, env: str, lines: int) -> str:
        """The last `lines` lines of `<bot>-<env>`'s stdout and stderr.

        Raises:
            NotFound: nothing of `bot` runs in `env`.
            RuntimeFailure: the engine cannot be reached.
        """
        name = _name(bot, env)
        with _engine(f"reading the logs of {name}"):
            try:
                raw = self._api.logs(name, stdout=True, stderr=True, tail=max(0, lines))
            except docker.errors.NotFound:
                raise NotFound(
                    f"nothing of {bot} runs in {env}", hint=f"deploy it with `/deploy {bot} {env}`"
                ) from None
        return raw.decode("utf-8", errors="replace")

    def remove(self, bot: str, env: str) -> None:
        """Force-remove `<bot>-<env>` and its `.previous` and `.next`.

        Raises:
            RuntimeFailure: the engine refused or cannot be reached.
        """
        name = _name(bot, env)
        with _engine(f"removing {name}"):
            for container in (name + NEXT, name, name + PREVIOUS):
                self._discard(container)

    # ── for reconcile ────────────────────────────────────────────────────────

    def list_managed(self) -> list[ManagedContainer]:
        """Every committed `<bot>-<env>` container on the engine that carries chatops' labels.

        Raises:
            RuntimeFailure: the engine cannot be reached.
        """
        with _engine("listing containers"):
            rows = self._api.containers(all=True, filters={"label": [BOT_LABEL, ENV_LABEL]})
        managed = []
        for row in rows:
            labels = row.get("Labels") or {}
            bot, env = labels.get(BOT_LABEL, ""), labels.get(ENV_LABEL, "")
            if f"/{_name(bot, env)}" in (row.get("Names") or []):
                running = row.get("State") == "running"
                managed.append(ManagedContainer(bot, env, labels.get(RELEASE_LABEL), running))
        return managed

    # ── helpers ──────────────────────────────────────────────────────────────

    def _inspect(self, ref: str) -> dict[str, Any] | None:
        try:
            attrs: dict[str, Any] = self._api.inspect_container(ref)
        except docker.errors.NotFound:
            return None
        return attrs

    def _stop(self, attrs: dict[str, Any]) -> None:
        if attrs["State"].get("Running"):
            self._api.stop(attrs["Id"], timeout=self._stop_timeout)

    def _discard(self, ref: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_container(ref, force=True)

    def _ensure_image(self, spec: RunSpec) -> None:
        try:
            self._client.images.get(spec.image)
        except docker.errors.NotFound:
            pass
        else:
            return
        hint = (
            "the image must be in a registry this Docker Engine can reach: set `registry` in "
            "chatops.yaml, and check that the registry runs and holds it"
        )
        if spec.image.startswith("sha256:"):
            raise RuntimeFailure(
                f"the image of {spec.image_name} ({spec.image[:19]}) is not on this Docker Engine "
                "and has no registry reference to pull it from",
                hint=hint,
            )
        repository, tag = parse_repository_tag(spec.image)
        try:
            for chunk in self._api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in chunk:
                    raise _pull_failed(spec, str(chunk["error"]), hint)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise _pull_failed(spec, _first_line(exc), hint) from exc

    def _run(self, spec: RunSpec, name: str) -> str:
        host_config = self._api.create_host_config(
            restart_policy={"Name": "unless-stopped"},
            init=True,  # a PID 1 without signal handlers (busybox) still stops on SIGTERM
            network_mode=spec.network,
            log_config=LogConfig(type="json-file", config={"max-size": self._log_max_size}),
        )
        created = self._api.create_container(
            spec.image,
            name=name,
            environment=dict(spec.environment),
            labels={
                BOT_LABEL: spec.bot,
                ENV_LABEL: spec.env,
                RELEASE_LABEL: _release(spec),
                COMMIT_LABEL: spec.commit,
                IMAGE_LABEL: spec.image_name,
            },
            host_config=host_config,
        )
        container_id = str(created["Id"])
        self._api.start(container_id)
        return container_id


def _name(bot: str, env: str) -> str:
    return f"{bot}-{env}"


def _release(spec: RunSpec) -> str:
    return f"v{spec.version}"


def _labels(attrs: dict[str, Any]) -> dict[str, str]:
    return dict(attrs.get("Config", {}).get("Labels") or {})


def _container_name(attrs: dict[str, Any]) -> str:
    return str(attrs.get("Name", "")).lstrip("/")


def _observation(attrs: dict[str, Any]) -> Observation:
    state: dict[str, Any] = attrs.get("State") or {}
    health_block: dict[str, Any] = state.get("Health") or {}
    health = _HEALTH.get(str(health_block.get("Status")), Health.UNKNOWN)
    running = bool(state.get("Running")) and not state.get("Restarting")
    detail = ""
    if not running:
        # the engine marks a stopped container unhealthy; its last checks say nothing useful
        detail = _one_line(str(state.get("Error") or ""))
    elif health is Health.UNHEALTHY:
        failed = [c for c in health_block.get("Log") or [] if c.get("ExitCode") != 0]
        if failed:
            detail = _one_line(str(failed[-1].get("Output") or "")) or (
                f"the health check exited with {failed[-1].get('ExitCode')}"
            )
    return Observation(
        health=health,
        running=running,
        release=_labels(attrs).get(RELEASE_LABEL),
        restarts=int(attrs.get("RestartCount") or 0),
        exit_code=None if running else int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        detail=detail,
    )


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 1] + "…"


def _pull_failed(spec: RunSpec, error: str, hint: str) -> RuntimeFailure:
    return RuntimeFailure(f"cannot pull {spec.image} ({spec.image_name}): {error}", hint=hint)


def _first_line(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


@contextlib.contextmanager
def _engine(action: str) -> Iterator[None]:
    """Re-raise the docker SDK's errors as RuntimeFailure naming `action`."""
    try:
        yield
    except ChatOpsError:
        raise
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RuntimeFailure(f"{action} failed: {_first_line(exc)}", hint=_ENGINE_HINT) from exc
