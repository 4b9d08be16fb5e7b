"""Running releases as Docker Swarm services (ports.Runtime for `runtime: swarm`).

Each (bot, env) is one replicated service `<bot>-<env>`. A new release updates it in
place: Swarm replaces its tasks one at a time in the strategy's order (stop-first or
start-first), watches each new task for a monitor window and rolls the service back by
itself when one fails. `start` waits until the service has converged, so by the time it
returns the update either went through or failed; `commit` has nothing left to do;
`restore` rolls an unfinished update back, or updates the service to the previous
release, or removes it when there was none.

A failed new release is rolled back (`failure_action=rollback`); an update to the release
`restore` brings back, and a rollback, carry on when a task fails (`continue`): with host
networking the returning release's task may fail once while the candidate still holds its
port, and Swarm's restart policy (`on-failure`) starts it again.

Swarm keeps the spec of before the last update (`PreviousSpec`) and the update's progress
(`UpdateStatus`) with the service, and chatops keeps nothing of its own: `restore` can be
called again after a crash at any point of `start`, and by another process.

Here: the runtime's operations, which change services. Beside it: `swarm_spec` (the
service spec a release becomes), `swarm_watch` (reading a service and waiting until it
converged) and `swarm_state` (pure readers of the engine's answers).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import docker
import docker.errors
import requests

from chatops.adapters.docker_client import BOT_LABEL, ENV_LABEL, RELEASE_LABEL, instance_of, name_of
from chatops.adapters.runtime.docker import ManagedContainer
from chatops.adapters.runtime.swarm_spec import service_kwargs
from chatops.adapters.runtime.swarm_state import (
    PAUSED,
    POLL_SECONDS,
    UPDATING,
    check_ours,
    current_tasks,
    labels_of,
    last_lines,
    lost_race,
    runs,
    spec_of,
    swarm_errors,
    update_state,
)
from chatops.adapters.runtime.swarm_watch import ServiceWatch
from chatops.domain.health import Health, Observation
from chatops.domain.names import DEFAULT_INSTANCE
from chatops.errors import NotFound, RuntimeFailure
from chatops.services.ports import RunSpec

__all__ = ["SwarmRuntime"]

_ATTEMPTS = 5  # updates that lose a race with Swarm's own (rollback) update are tried again
_RESTORE_FAILURES = 2  # a task may fail while the candidate it replaces still holds its port


class SwarmRuntime:
    """Runs each bot of an environment as a replicated Swarm service `<bot>-<env>`.

    Args:
        client: a connected client of a Swarm manager (see
            `chatops.adapters.docker_client.connect`).
        monitor_seconds: how long Swarm watches each new task for a failure before it
            counts as updated (and rolls the service back when it fails).
        converge_timeout: seconds `start` and `restore` wait for the service to converge.
        stop_timeout: seconds a task has to exit after SIGTERM before it is killed.
        log_max_size: the json-file log's size limit per task (`10m`, …).
        instance: the chatops instance whose services these are (DESIGN §4); only services
            labelled with it are listed, updated or removed.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        monitor_seconds: float = 5.0,
        converge_timeout: float = 120.0,
        stop_timeout: int = 10,
        log_max_size: str = "10m",
        instance: str = DEFAULT_INSTANCE,
    ) -> None:
        self._client = client
        self._instance = instance
        self._api = client.api
        self._monitor_seconds = monitor_seconds
        self._converge_timeout = converge_timeout
        self._stop_timeout = stop_timeout
        self._log_max_size = log_max_size
        self._watch = ServiceWatch(
            self._api, monitor_seconds=monitor_seconds, converge_timeout=converge_timeout
        )

    # ── ports.Runtime ────────────────────────────────────────────────────────

    def start(self, spec: RunSpec) -> str:
        """Create `<bot>-<env>` or update it to `spec`, wait until it converged, return its id.

        Converged means Swarm's update is complete, past its monitor window, and every
        replica of the new spec runs and has proven itself: healthy when the image has a
        HEALTHCHECK, else seen running for the monitor window (a process that exits at once
        is `running` for an instant). Any task of the new spec that ended is a failure.

        Raises:
            RuntimeFailure: a service of that name is not chatops', or a task of the new
                release failed (naming the task's error, e.g. `No such image`), or Swarm
                paused or rolled the update back, or the service did not converge within
                `converge_timeout`, or the engine refused, is no Swarm manager or cannot
                be reached.
        """
        name = spec.name
        what = f"starting {spec.image_name} as the Swarm service {name}"
        with swarm_errors(what):
            before = self._watch.task_ids(name)
            service_id = self._apply(spec, restoring=False)
            self._watch.converge(service_id, spec, what, tolerate=0, before=before)
        return service_id

    def observe(self, bot: str, env: str, handle: str | None = None) -> Observation:
        """What the service `handle` (else `<bot>-<env>`) and its tasks are doing.

        `running` when at least `replicas` tasks of the service's current spec run;
        healthy when each of their containers is (a task on another node counts as healthy
        once Swarm runs it; a container without a HEALTHCHECK is `unknown`); unhealthy
        when tasks of the current spec failed since the last update and not enough run,
        with the latest task's error; starting while the service converges. `restarts`
        counts the tasks of the current spec Swarm replaced since the last update (up to
        the swarm's task history limit).

        Raises:
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        ref = handle or self._name(bot, env)
        with swarm_errors(f"inspecting the Swarm service {ref}"):
            attrs = self._watch.inspect(ref)
            if attrs is None:
                return Observation(health=Health.UNKNOWN, running=False, missing=True)
            tasks = current_tasks(attrs, self._watch.tasks(attrs["ID"]))
            return self._watch.observation(attrs, tasks)

    def commit(self, bot: str, env: str, handle: str) -> None:
        """Nothing to drop: Swarm replaced the tasks of the old release itself.

        Raises:
            NotFound: the service `handle` is gone.
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        with swarm_errors(f"committing {self._name(bot, env)}"):
            if self._watch.inspect(handle) is None:
                raise NotFound(
                    f"the Swarm service of {bot} in {env} ({handle[:12]}) is gone",
                    hint=f"deploy {bot} to {env} again",
                )

    def restore(self, bot: str, env: str, previous: RunSpec | None) -> None:
        """Undo an unfinished `start`: run `previous` again, or remove the service.

        An update that is in progress or paused on its way from `previous` is rolled back
        by Swarm (`docker service update --rollback`); a service that runs something else
        is updated to `previous`, and created when it is gone. Then it waits until the
        service converged, like `start`, but lets a task of `previous` fail twice (its port
        may still be held by the candidate). Without `previous` the service is removed.
        Calling it again changes nothing.

        Raises:
            RuntimeFailure: a service of that name is not chatops', or `previous` does not
                converge (see `start`), or the engine refused, is no Swarm manager or cannot
                be reached.
        """
        name = self._name(bot, env)
        if previous is None:
            with swarm_errors(f"removing the Swarm service {name}"):
                self._remove(name)
            return
        what = f"restoring {previous.image_name} as the Swarm service {name}"
        with swarm_errors(what):
            before = self._watch.task_ids(name)
            service_id = self._apply(previous, restoring=True)
            self._watch.converge(
                service_id, previous, what, tolerate=_RESTORE_FAILURES, before=before
            )

    def logs(self, bot: str, env: str, lines: int) -> str:
        """The last `lines` lines of stdout and stderr of the service's tasks, oldest first.

        Raises:
            NotFound: there is no service `<bot>-<env>`.
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        name = self._name(bot, env)
        with swarm_errors(f"reading the logs of the Swarm service {name}"):
            try:
                service = self._client.services.get(name)  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                raise NotFound(
                    f"nothing of {bot} runs in {env}", hint=f"deploy it with `/deploy {bot} {env}`"
                ) from None
            raw = service.logs(stdout=True, stderr=True, timestamps=True, tail=str(max(0, lines)))
            text = raw if isinstance(raw, bytes) else b"".join(raw)
        return last_lines(text.decode("utf-8", errors="replace"), lines)

    def remove(self, bot: str, env: str) -> None:
        """Remove the service `<bot>-<env>` if it exists, with its task containers on this node.

        Raises:
            RuntimeFailure: the engine refused, is no Swarm manager or cannot be reached.
        """
        name = self._name(bot, env)
        with swarm_errors(f"removing the Swarm service {name}"):
            self._remove(name)

    # ── for reconcile ────────────────────────────────────────────────────────

    def list_managed(self) -> list[ManagedContainer]:
        """(bot, env, release, running) of every Swarm service that carries chatops' labels.

        Raises:
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        with swarm_errors("listing Swarm services"):
            services: list[dict[str, Any]] = self._api.services(  # type: ignore[no-untyped-call]
                filters={"label": [BOT_LABEL, ENV_LABEL]}
            )
            running: list[dict[str, Any]] = self._api.tasks(  # type: ignore[no-untyped-call]
                filters={"desired-state": "running"}
            )
        by_service: dict[str, list[dict[str, Any]]] = {}
        for task in running:
            by_service.setdefault(str(task.get("ServiceID")), []).append(task)
        managed = []
        for attrs in services:
            service_labels = labels_of(attrs)
            bot, env = service_labels.get(BOT_LABEL, ""), service_labels.get(ENV_LABEL, "")
            if instance_of(service_labels) != self._instance:
                continue
            if spec_of(attrs).get("Name") != self._name(bot, env):
                continue
            tasks = current_tasks(attrs, by_service.get(str(attrs["ID"]), []))
            release = service_labels.get(RELEASE_LABEL)
            managed.append(ManagedContainer(bot, env, release, tasks.converged))
        return managed

    # ── helpers ──────────────────────────────────────────────────────────────

    def _name(self, bot: str, env: str) -> str:
        return name_of(bot, env, self._instance)

    def _apply(self, spec: RunSpec, *, restoring: bool) -> str:
        """Make `spec` the service's spec; when `restoring`, by Swarm's rollback if that fits."""
        for attempt in range(_ATTEMPTS):
            attrs = self._watch.inspect(spec.name)
            try:
                if attrs is None:
                    created = self._client.services.create(  # type: ignore[no-untyped-call]
                        spec.image, name=spec.name, **self._service_kwargs(spec, restoring)
                    )
                    return str(created.id)
                check_ours(attrs, spec)
                state = update_state(attrs)
                if restoring and runs(spec_of(attrs), spec) and state not in PAUSED:
                    pass  # Swarm rolled back already, or `start` never got to update it
                elif (
                    restoring and state in UPDATING and runs(attrs.get("PreviousSpec") or {}, spec)
                ):
                    self._rollback(attrs)
                else:  # also resumes a paused update
                    service = self._client.services.get(attrs["ID"])  # type: ignore[no-untyped-call]
                    service.update(image=spec.image, **self._service_kwargs(spec, restoring))
            except docker.errors.APIError as exc:
                if attempt + 1 < _ATTEMPTS and lost_race(exc):
                    continue
                raise
            return str(attrs["ID"])
        raise AssertionError("unreachable")  # pragma: no cover

    def _service_kwargs(self, spec: RunSpec, restoring: bool) -> dict[str, Any]:
        return service_kwargs(
            spec,
            restoring=restoring,
            monitor_seconds=self._monitor_seconds,
            stop_timeout=self._stop_timeout,
            log_max_size=self._log_max_size,
        )

    def _rollback(self, attrs: dict[str, Any]) -> None:
        """`docker service update --rollback`: the SDK's `Service.update` cannot ask for it."""
        url = f"{self._api.base_url}/v{self._api.api_version}/services/{attrs['ID']}/update"
        response = self._api.post(
            url,
            json=spec_of(attrs),  # the engine ignores it and takes PreviousSpec
            params={"version": attrs["Version"]["Index"], "rollback": "previous"},
            timeout=self._api.timeout,
        )
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            docker.errors.create_api_error_from_http_exception(exc)

    def _remove(self, name: str) -> None:
        attrs = self._watch.inspect(name)
        if attrs is None:
            return
        found = labels_of(attrs)
        if BOT_LABEL in found and instance_of(found) != self._instance:
            raise RuntimeFailure(
                f"the Swarm service {name} belongs to chatops instance {instance_of(found)!r}, "
                f"not to this instance {self._instance!r}",
                hint="give this installation another `instance` in chatops.yaml, or rename "
                "the bot or environment",
            )
        with contextlib.suppress(docker.errors.NotFound):
            self._api.remove_service(attrs["ID"])  # type: ignore[no-untyped-call]
        # Swarm stops and removes the tasks' containers seconds later: remove those on this
        # node now, like the docker runtime does, so that their ports are free on return
        deadline = time.monotonic() + self._converge_timeout
        while time.monotonic() < deadline:
            containers = self._service_containers(attrs["ID"])
            if not containers:
                return
            for row in containers:
                with contextlib.suppress(docker.errors.APIError):  # gone, or Swarm removes it
                    self._api.remove_container(row["Id"], force=True)
            time.sleep(POLL_SECONDS)

    def _service_containers(self, service_id: str) -> list[dict[str, Any]]:
        label = f"com.docker.swarm.service.id={service_id}"
        rows: list[dict[str, Any]] = self._api.containers(all=True, filters={"label": label})
        return rows
