"""Running releases as containers on one Docker Engine (ports.Runtime for `runtime: docker`).

Containers of (bot, env), by name:

    <bot>-<env>            the committed release (or, stop-first, the candidate until commit)
    <bot>-<env>.previous   stop-first: the release the candidate replaced, stopped, until commit
    <bot>-<env>.next       start-first: the candidate, running beside the committed one

with `<instance>-` before each for a non-default instance. Only containers labelled
with this runtime's instance are listed, replaced or removed.

`commit` and `restore` only look at what exists under these names, so either can be
called again after a crash at any point of `start`, and by another process.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import docker
import docker.errors
import requests
from docker.types import LogConfig
from docker.utils import parse_repository_tag

from chatops.adapters.docker_client import (
    BOT_LABEL,
    COMMIT_LABEL,
    ENV_LABEL,
    IMAGE_LABEL,
    RELEASE_LABEL,
    container_labels,
    container_observation,
    engine_errors,
    first_line,
    instance_of,
    labels,
    name_of,
    nano_cpus,
    release_of,
)
from chatops.domain.catalog import Strategy
from chatops.domain.health import Health, Observation
from chatops.domain.names import DEFAULT_INSTANCE
from chatops.errors import NotFound, RuntimeFailure
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

PREVIOUS = ".previous"
NEXT = ".next"


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
        instance: the chatops instance whose containers these are (DESIGN §4).
    """

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        stop_timeout: int = 10,
        log_max_size: str = "10m",
        instance: str = DEFAULT_INSTANCE,
    ) -> None:
        self._client = client
        self._instance = instance
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
        self._check_instance(spec)
        with engine_errors(f"starting {spec.image_name} as {name}"):
            current = self._inspect(name)
            self._check_ours(current, name)
            self._ensure_image(spec)
            self._discard(name + NEXT)
            if spec.strategy is Strategy.START_FIRST:
                return self._run(spec, name + NEXT)
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
        with engine_errors(f"inspecting {handle or self._name(bot, env)}"):
            attrs = self._inspect(handle or self._name(bot, env))
        if attrs is None:
            return Observation(health=Health.UNKNOWN, running=False, missing=True)
        return container_observation(attrs)

    def commit(self, bot: str, env: str, handle: str) -> None:
        """Make the candidate `handle` the one `<bot>-<env>` and drop what it replaced.

        Raises:
            NotFound: the candidate container is gone.
            RuntimeFailure: the engine refused or cannot be reached.
        """
        name = self._name(bot, env)
        with engine_errors(f"committing {name}"):
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
        name = self._name(bot, env)
        with engine_errors(f"restoring {name}"):
            current = self._inspect(name)
            self._check_ours(current, name)
            self._discard(name + NEXT)
            kept = self._inspect(name + PREVIOUS)
            if kept is not None:
                if current is not None:  # commit drops .previous: what runs is the candidate
                    self._discard(current["Id"])
                self._api.rename(kept["Id"], name)
                self._api.start(kept["Id"])
                return
            if current is not None:
                current_release = container_labels(current).get(RELEASE_LABEL)
                if previous is not None and current_release == release_of(previous):
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
        name = self._name(bot, env)
        with engine_errors(f"reading the logs of {name}"):
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
        name = self._name(bot, env)
        with engine_errors(f"removing {name}"):
            self._check_ours(self._inspect(name), name)
            for container in (name + NEXT, name, name + PREVIOUS):
                self._discard(container)

    # ── for reconcile ────────────────────────────────────────────────────────

    def list_managed(self) -> list[ManagedContainer]:
        """Every committed `<bot>-<env>` container of this instance on the engine.

        Raises:
            RuntimeFailure: the engine cannot be reached.
        """
        with engine_errors("listing containers"):
            rows = self._api.containers(all=True, filters={"label": [BOT_LABEL, ENV_LABEL]})
        managed = []
        for row in rows:
            row_labels = row.get("Labels") or {}
            bot, env = row_labels.get(BOT_LABEL, ""), row_labels.get(ENV_LABEL, "")
            if instance_of(row_labels) != self._instance:
                continue
            if f"/{self._name(bot, env)}" in (row.get("Names") or []):
                running = row.get("State") == "running"
                managed.append(ManagedContainer(bot, env, row_labels.get(RELEASE_LABEL), running))
        return managed

    # ── helpers ──────────────────────────────────────────────────────────────

    def _name(self, bot: str, env: str) -> str:
        return name_of(bot, env, self._instance)

    def _check_instance(self, spec: RunSpec) -> None:
        if spec.instance != self._instance:  # wiring gone wrong: never touch another's
            raise RuntimeFailure(
                f"{spec.name} belongs to chatops instance {spec.instance!r}, "
                f"not to this runtime's {self._instance!r}"
            )

    def _check_ours(self, attrs: dict[str, Any] | None, name: str) -> None:
        """Refuse to replace a container of that name that another chatops instance runs."""
        if attrs is None:
            return
        found = container_labels(attrs)
        if BOT_LABEL in found and instance_of(found) != self._instance:
            raise RuntimeFailure(
                f"a container named {name} exists that chatops instance "
                f"{instance_of(found)!r} runs, not this instance {self._instance!r}",
                hint="give this installation another `instance` in chatops.yaml, or rename "
                "the bot or environment",
            )

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
            raise _pull_failed(spec, first_line(exc), hint) from exc

    def _run(self, spec: RunSpec, name: str) -> str:
        host_config = self._api.create_host_config(
            restart_policy={"Name": "unless-stopped"},
            init=True,  # a PID 1 without signal handlers (busybox) still stops on SIGTERM
            network_mode=spec.network,
            log_config=LogConfig(type="json-file", config={"max-size": self._log_max_size}),
            nano_cpus=nano_cpus(spec),
            mem_limit=spec.resources.memory,
            memswap_limit=spec.resources.memory,  # no swap beyond the limit
        )
        created = self._api.create_container(
            spec.image,
            name=name,
            environment=dict(spec.environment),
            labels=labels(spec),
            host_config=host_config,
        )
        container_id = str(created["Id"])
        self._api.start(container_id)
        return container_id


def _container_name(attrs: dict[str, Any]) -> str:
    return str(attrs.get("Name", "")).lstrip("/")


def _pull_failed(spec: RunSpec, error: str, hint: str) -> RuntimeFailure:
    return RuntimeFailure(f"cannot pull {spec.image} ({spec.image_name}): {error}", hint=hint)
