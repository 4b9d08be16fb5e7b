"""Connecting to a Docker Engine, with an error that says what to do when it cannot be reached;
and the helpers the Docker adapters (build, the docker and swarm runtimes) share."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.constants
import docker.errors
import requests
import urllib3.exceptions

from chatops.domain.health import Health, Observation
from chatops.domain.names import DEFAULT_INSTANCE, unit_name
from chatops.errors import ChatOpsError, EngineUnreachable, RuntimeFailure
from chatops.services.ports import RunSpec

__all__ = [
    "BOT_LABEL",
    "COMMIT_LABEL",
    "DEFAULT_TIMEOUT",
    "ENV_LABEL",
    "IMAGE_LABEL",
    "INSTANCE_LABEL",
    "RELEASE_LABEL",
    "connect",
    "container_labels",
    "container_observation",
    "engine_address",
    "engine_errors",
    "first_line",
    "instance_of",
    "labels",
    "last_failed_check",
    "name_of",
    "nano_cpus",
    "one_line",
    "release_of",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
"""Seconds an API call may take before it fails (builds and stops set their own)."""

BOT_LABEL = "chatops.bot"
ENV_LABEL = "chatops.env"
RELEASE_LABEL = "chatops.release"
COMMIT_LABEL = "chatops.commit"
IMAGE_LABEL = "chatops.image"
INSTANCE_LABEL = "chatops.instance"

_UNIX = "unix://"
# where the docker SDK connects when DOCKER_HOST is not set (it names it `http+unix://…`)
DEFAULT_SOCKET = _UNIX + docker.constants.DEFAULT_UNIX_SOCKET.split("://", 1)[1]
_HINT = (
    "start Docker there, or point DOCKER_HOST (or `docker_host` of the environment in "
    "chatops.yaml) at a running engine"
)
_ENGINE_HINT = "check that the Docker Engine of this environment is running and reachable"
_DETAIL_CHARS = 200
_HEALTH = {"starting": Health.STARTING, "healthy": Health.HEALTHY, "unhealthy": Health.UNHEALTHY}


def connect(docker_host: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """A client of the engine at `docker_host`, checked to answer.

    Args:
        docker_host: the engine's URL (`unix:///var/run/docker.sock`, `tcp://host:2376`, …);
            None uses the docker SDK's own `DOCKER_HOST` handling.
        timeout: seconds an API call may take.

    Raises:
        EngineUnreachable: the engine cannot be reached, saying which one and what to do.
    """
    where = engine_address(docker_host, os.environ)
    tried = docker_host or os.environ.get("DOCKER_HOST", "").strip() or DEFAULT_SOCKET
    try:
        if tried.startswith(_UNIX):
            _check_unix_socket(tried.removeprefix(_UNIX))
        if docker_host is None:
            client = docker.from_env(timeout=int(timeout))
        else:
            client = docker.DockerClient(base_url=docker_host, timeout=int(timeout))
        client.ping()
    except (OSError, docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnreachable(
            f"cannot reach the Docker Engine at {where}: {first_line(exc)}", hint=_HINT
        ) from exc
    return client


def engine_address(docker_host: str | None, environ: Mapping[str, str]) -> str:
    """The engine `connect` tries, for messages: `docker_host`, else DOCKER_HOST, else the
    default socket, saying which it is."""
    if docker_host:
        return docker_host
    from_env = environ.get("DOCKER_HOST", "").strip()
    if from_env:
        return f"{from_env} (from DOCKER_HOST)"
    return f"{DEFAULT_SOCKET} (the default socket; DOCKER_HOST is not set)"


def _check_unix_socket(path: str) -> None:
    """Connect once ourselves: the SDK leaks the socket of a refused unix connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)


# ── errors ───────────────────────────────────────────────────────────────────


def first_line(exc: BaseException) -> str:
    """The first line of what an SDK error says (the engine's explanation when it gave one)."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def one_line(text: str) -> str:
    """The last non-blank line of `text` (an error, a health check's output), shortened."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 1] + "…"


# the engine did not answer, or went away in the middle of an answer (as it does when it
# restarts: "Connection broken: IncompleteRead")
_ENGINE_GONE = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
)


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Re-raise the docker SDK's errors as RuntimeFailure naming `action` (for the runtimes)."""
    try:
        yield
    except ChatOpsError:
        raise
    except _ENGINE_GONE as exc:
        log.warning("%s: the Docker Engine did not answer: %s", action, exc)
        raise EngineUnreachable(
            f"{action} failed: the Docker Engine cannot be reached", hint=_ENGINE_HINT
        ) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RuntimeFailure(f"{action} failed: {first_line(exc)}", hint=_ENGINE_HINT) from exc


# ── what the runtimes run ────────────────────────────────────────────────────


def name_of(bot: str, env: str, instance: str = DEFAULT_INSTANCE) -> str:
    """The container or service name of (bot, env): `RunSpec.name` where no spec is at hand."""
    return unit_name(bot, env, instance)


def instance_of(found: Mapping[str, str]) -> str:
    """The instance a container, service or image belongs to, by its labels `found`; one
    made before instances existed carries no such label and belongs to `default`."""
    return found.get(INSTANCE_LABEL) or DEFAULT_INSTANCE


def release_of(spec: RunSpec) -> str:
    """The release label of `spec` (`v<N>`)."""
    return f"v{spec.version}"


def labels(spec: RunSpec) -> dict[str, str]:
    """The labels chatops puts on a container or service that runs `spec`."""
    return {
        BOT_LABEL: spec.bot,
        ENV_LABEL: spec.env,
        RELEASE_LABEL: release_of(spec),
        COMMIT_LABEL: spec.commit,
        IMAGE_LABEL: spec.image_name,
        INSTANCE_LABEL: spec.instance,
    }


def nano_cpus(spec: RunSpec) -> int | None:
    """`spec`'s CPU limit in billionths of a CPU, as the engine takes it (None: no limit)."""
    cpus = spec.resources.cpus
    return None if cpus is None else round(cpus * 1_000_000_000)


def container_labels(attrs: Mapping[str, Any]) -> dict[str, str]:
    """The labels of a container, from its `inspect` attributes."""
    return dict(attrs.get("Config", {}).get("Labels") or {})


def last_failed_check(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latest failed health check in a container's `State` (its Output, ExitCode, …)."""
    checks = (state.get("Health") or {}).get("Log") or []
    failed = [check for check in checks if check.get("ExitCode") != 0]
    return dict(failed[-1]) if failed else None


def container_observation(attrs: Mapping[str, Any]) -> Observation:
    """What a container is doing, from its `inspect` attributes."""
    state: dict[str, Any] = attrs.get("State") or {}
    health_block: dict[str, Any] = state.get("Health") or {}
    health = _HEALTH.get(str(health_block.get("Status")), Health.UNKNOWN)
    running = bool(state.get("Running")) and not state.get("Restarting")
    detail = ""
    if not running:
        # the engine marks a stopped container unhealthy; its last checks say nothing useful
        detail = one_line(str(state.get("Error") or ""))
    elif health is Health.UNHEALTHY:
        check = last_failed_check(state)
        if check is not None:
            detail = one_line(str(check.get("Output") or "")) or (
                f"the health check exited with {check.get('ExitCode')}"
            )
    return Observation(
        health=health,
        running=running,
        release=container_labels(attrs).get(RELEASE_LABEL),
        restarts=int(attrs.get("RestartCount") or 0),
        exit_code=None if running else int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled")),
        detail=detail,
    )
