"""Connecting to a Docker Engine, with an error that says what to do when it cannot be reached."""

from __future__ import annotations

import socket

import docker
import docker.errors
import requests

from chatops.errors import RuntimeFailure

__all__ = ["DEFAULT_TIMEOUT", "connect"]

DEFAULT_TIMEOUT = 60.0
"""Seconds an API call may take before it fails (builds and stops set their own)."""

_UNIX = "unix://"
_HINT = (
    "start Docker there, or point DOCKER_HOST (or `docker_host` of the environment in "
    "chatops.yaml) at a running engine"
)


def connect(docker_host: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """A client of the engine at `docker_host`, checked to answer.

    Args:
        docker_host: the engine's URL (`unix:///var/run/docker.sock`, `tcp://host:2376`, …);
            None uses the docker SDK's own `DOCKER_HOST` handling.
        timeout: seconds an API call may take.

    Raises:
        RuntimeFailure: the engine cannot be reached, saying which one and what to do.
    """
    where = docker_host or "DOCKER_HOST (or the default socket)"
    try:
        if docker_host is not None and docker_host.startswith(_UNIX):
            _check_unix_socket(docker_host.removeprefix(_UNIX))
        if docker_host is None:
            client = docker.from_env(timeout=int(timeout))
        else:
            client = docker.DockerClient(base_url=docker_host, timeout=int(timeout))
        client.ping()
    except (OSError, docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RuntimeFailure(
            f"cannot reach the Docker Engine at {where}: {_first_line(exc)}", hint=_HINT
        ) from exc
    return client


def _check_unix_socket(path: str) -> None:
    """Connect once ourselves: the SDK leaks the socket of a refused unix connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
