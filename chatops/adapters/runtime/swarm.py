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
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import docker
import docker.errors
import requests
from docker.types import Resources, RestartPolicy, RollbackConfig, ServiceMode, UpdateConfig

from chatops.adapters.docker_client import (
    BOT_LABEL,
    ENV_LABEL,
    RELEASE_LABEL,
    container_observation,
    engine_errors,
    instance_of,
    labels,
    last_failed_check,
    name_of,
    nano_cpus,
    one_line,
)
from chatops.adapters.runtime.docker import ManagedContainer
from chatops.domain.catalog import Strategy
from chatops.domain.health import Health, Observation
from chatops.domain.names import DEFAULT_INSTANCE
from chatops.errors import NotFound, RuntimeFailure
from chatops.services.ports import RunSpec

__all__ = ["SwarmRuntime"]

_NANO = 1_000_000_000
_POLL_SECONDS = 0.25
_EPOCH = datetime.fromtimestamp(0, UTC)
_RESTART_DELAY = 5 * _NANO  # Swarm's own default, which the SDK would send as 0
_ATTEMPTS = 5  # updates that lose a race with Swarm's own (rollback) update are tried again
_RESTORE_FAILURES = 2  # a task may fail while the candidate it replaces still holds its port
_SETTLED = frozenset({"completed", "rollback_completed"})  # or no update status at all
_PAUSED = frozenset({"paused", "rollback_paused"})
_UPDATING = frozenset({"updating", "paused"})
_FAILED = frozenset({"failed", "rejected", "complete", "orphaned"})
_ENDED = _FAILED | {"shutdown"}
_SWARM_HINT = (
    "the `swarm` runtime needs a Docker Engine that is a Swarm manager: run "
    "`docker swarm init` there, or point `docker_host` of the environment at a manager"
)


@dataclass(frozen=True, slots=True)
class _Tasks:
    """Tasks of one spec of a service, oldest first: those that run, and since the service's
    last update began, those that ended."""

    replicas: int
    running: list[dict[str, Any]]
    failed: list[dict[str, Any]]  # exited, rejected: what keeps a service from converging
    ended: list[dict[str, Any]]  # failed or shut down: what Swarm replaced

    @property
    def converged(self) -> bool:
        return len(self.running) >= max(1, self.replicas)


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
        with _swarm(what):
            before = self._task_ids(name)
            service_id = self._apply(spec, restoring=False)
            self._converge(service_id, spec, what, tolerate=0, before=before)
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
        with _swarm(f"inspecting the Swarm service {ref}"):
            attrs = self._inspect(ref)
            if attrs is None:
                return Observation(health=Health.UNKNOWN, running=False, missing=True)
            tasks = _current_tasks(attrs, self._tasks(attrs["ID"]))
            return self._observation(attrs, tasks)

    def commit(self, bot: str, env: str, handle: str) -> None:
        """Nothing to drop: Swarm replaced the tasks of the old release itself.

        Raises:
            NotFound: the service `handle` is gone.
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        with _swarm(f"committing {self._name(bot, env)}"):
            if self._inspect(handle) is None:
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
            with _swarm(f"removing the Swarm service {name}"):
                self._remove(name)
            return
        what = f"restoring {previous.image_name} as the Swarm service {name}"
        with _swarm(what):
            before = self._task_ids(name)
            service_id = self._apply(previous, restoring=True)
            self._converge(service_id, previous, what, tolerate=_RESTORE_FAILURES, before=before)

    def logs(self, bot: str, env: str, lines: int) -> str:
        """The last `lines` lines of stdout and stderr of the service's tasks, oldest first.

        Raises:
            NotFound: there is no service `<bot>-<env>`.
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        name = self._name(bot, env)
        with _swarm(f"reading the logs of the Swarm service {name}"):
            try:
                service = self._client.services.get(name)  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                raise NotFound(
                    f"nothing of {bot} runs in {env}", hint=f"deploy it with `/deploy {bot} {env}`"
                ) from None
            raw = service.logs(stdout=True, stderr=True, timestamps=True, tail=str(max(0, lines)))
            text = raw if isinstance(raw, bytes) else b"".join(raw)
        return _last_lines(text.decode("utf-8", errors="replace"), lines)

    def remove(self, bot: str, env: str) -> None:
        """Remove the service `<bot>-<env>` if it exists, with its task containers on this node.

        Raises:
            RuntimeFailure: the engine refused, is no Swarm manager or cannot be reached.
        """
        name = self._name(bot, env)
        with _swarm(f"removing the Swarm service {name}"):
            self._remove(name)

    # ── for reconcile ────────────────────────────────────────────────────────

    def list_managed(self) -> list[ManagedContainer]:
        """(bot, env, release, running) of every Swarm service that carries chatops' labels.

        Raises:
            RuntimeFailure: the engine is no Swarm manager or cannot be reached.
        """
        with _swarm("listing Swarm services"):
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
            service_labels = _service_labels(attrs)
            bot, env = service_labels.get(BOT_LABEL, ""), service_labels.get(ENV_LABEL, "")
            if instance_of(service_labels) != self._instance:
                continue
            if _spec(attrs).get("Name") != self._name(bot, env):
                continue
            tasks = _current_tasks(attrs, by_service.get(str(attrs["ID"]), []))
            release = service_labels.get(RELEASE_LABEL)
            managed.append(ManagedContainer(bot, env, release, tasks.converged))
        return managed

    # ── helpers ──────────────────────────────────────────────────────────────

    def _name(self, bot: str, env: str) -> str:
        return name_of(bot, env, self._instance)

    def _inspect(self, ref: str) -> dict[str, Any] | None:
        try:
            attrs: dict[str, Any] = self._api.inspect_service(ref)  # type: ignore[no-untyped-call]
        except docker.errors.NotFound:
            return None
        return attrs

    def _tasks(self, service_id: str) -> list[dict[str, Any]]:
        try:
            tasks: list[dict[str, Any]] = self._api.tasks(  # type: ignore[no-untyped-call]
                filters={"service": service_id}
            )
        except docker.errors.NotFound:  # the service is gone, and its tasks with it
            return []
        return [task for task in tasks if task.get("ServiceID") == service_id]

    def _apply(self, spec: RunSpec, *, restoring: bool) -> str:
        """Make `spec` the service's spec; when `restoring`, by Swarm's rollback if that fits."""
        for attempt in range(_ATTEMPTS):
            attrs = self._inspect(spec.name)
            try:
                if attrs is None:
                    created = self._client.services.create(  # type: ignore[no-untyped-call]
                        spec.image, name=spec.name, **self._service_kwargs(spec, restoring)
                    )
                    return str(created.id)
                _check_ours(attrs, spec)
                state = _update_state(attrs)
                if restoring and _runs(_spec(attrs), spec) and state not in _PAUSED:
                    pass  # Swarm rolled back already, or `start` never got to update it
                elif (
                    restoring
                    and state in _UPDATING
                    and _runs(attrs.get("PreviousSpec") or {}, spec)
                ):
                    self._rollback(attrs)
                else:  # also resumes a paused update
                    service = self._client.services.get(attrs["ID"])  # type: ignore[no-untyped-call]
                    service.update(image=spec.image, **self._service_kwargs(spec, restoring))
            except docker.errors.APIError as exc:
                if attempt + 1 < _ATTEMPTS and _lost_race(exc):
                    continue
                raise
            return str(attrs["ID"])
        raise AssertionError("unreachable")  # pragma: no cover

    def _service_kwargs(self, spec: RunSpec, restoring: bool) -> dict[str, Any]:
        order: Literal["start-first", "stop-first"] = (
            "start-first" if spec.strategy is Strategy.START_FIRST else "stop-first"
        )
        monitor = int(self._monitor_seconds * _NANO)
        chatops_labels = labels(spec)
        return {
            "env": dict(spec.environment),
            "labels": chatops_labels,
            "container_labels": chatops_labels,
            "mode": ServiceMode("replicated", replicas=spec.replicas),
            "resources": Resources(cpu_limit=nano_cpus(spec), mem_limit=spec.resources.memory),
            "restart_policy": RestartPolicy(condition="on-failure", delay=_RESTART_DELAY),
            # a new release that fails is rolled back; the release `restore` brings back, and
            # a rollback, go on (their task restarts once the candidate freed its port)
            "update_config": UpdateConfig(
                parallelism=1,
                failure_action="continue" if restoring else "rollback",
                monitor=monitor,
                order=order,
            ),
            "rollback_config": RollbackConfig(
                parallelism=1, failure_action="continue", monitor=monitor, order=order
            ),
            "networks": [spec.network] if spec.network else None,
            "init": True,  # a PID 1 without signal handlers (busybox) still stops on SIGTERM
            "stop_grace_period": self._stop_timeout * _NANO,
            "log_driver": "json-file",
            "log_driver_options": {"max-size": self._log_max_size},
        }

    def _rollback(self, attrs: dict[str, Any]) -> None:
        """`docker service update --rollback`: the SDK's `Service.update` cannot ask for it."""
        url = f"{self._api.base_url}/v{self._api.api_version}/services/{attrs['ID']}/update"
        response = self._api.post(
            url,
            json=_spec(attrs),  # the engine ignores it and takes PreviousSpec
            params={"version": attrs["Version"]["Index"], "rollback": "previous"},
            timeout=self._api.timeout,
        )
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            docker.errors.create_api_error_from_http_exception(exc)

    def _converge(
        self, service_id: str, spec: RunSpec, what: str, *, tolerate: int, before: set[str]
    ) -> None:
        """Wait until `spec` runs and stays up; raise when it cannot.

        Converged means Swarm's update (if any) settled, every desired task of `spec` runs,
        and each of them is healthy by its HEALTHCHECK or, without one, has been seen
        running for the monitor window: a task is `running` for an instant before a process
        that exits at once is seen to have failed. A task of `spec` that this call started
        (not in `before`) and that ended is a failure, beyond `tolerate` of them.
        """
        deadline = time.monotonic() + self._converge_timeout
        first_seen_running: dict[str, float] = {}
        checks: dict[str, str] = {}  # task id → what its failing health check said
        while True:
            attrs = self._inspect(service_id)
            if attrs is None:
                raise RuntimeFailure(f"{what} failed: the service was removed meanwhile")
            every = self._tasks(service_id)
            tasks = _current_tasks(attrs, every)
            mine = _current_tasks(attrs, every, spec)
            self._remember_checks(
                [t for t in every if _container_runs(_task_container_spec(t), spec)], checks
            )
            state = _update_state(attrs) or ""
            status = one_line(str((attrs.get("UpdateStatus") or {}).get("Message") or ""))
            if not _runs(_spec(attrs), spec):
                if not state.startswith("rollback"):
                    raise RuntimeFailure(
                        f"{what} failed: the service was changed meanwhile, by another deployment?"
                    )
                failure = self._failure(mine, checks)
                raise RuntimeFailure(
                    f"{what} failed: {failure or 'a new task failed'}; Swarm rolled the update back"
                    + (f" ({status})" if status else ""),
                    hint=_fix_hint(spec),
                )
            if state in _PAUSED:
                failure = self._failure(tasks, checks)
                raise RuntimeFailure(
                    f"{what} failed: Swarm paused the update ({status})"
                    + (f": {failure}" if failure else ""),
                    hint=_fix_hint(spec),
                )
            failed = [task for task in tasks.failed if task.get("ID") not in before]
            if len(failed) > tolerate:
                raise RuntimeFailure(
                    f"{what} failed: {self._failure(tasks, checks)}", hint=_fix_hint(spec)
                )
            now = time.monotonic()
            for task in tasks.running:
                first_seen_running.setdefault(str(task.get("ID")), now)
            if (
                (not state or state in _SETTLED)
                and tasks.converged
                and all(self._stable(task, first_seen_running, now) for task in tasks.running)
            ):
                return
            if now >= deadline:
                raise RuntimeFailure(
                    f"{what} did not converge within {self._converge_timeout:.0f}s: "
                    f"{len(tasks.running)} of {tasks.replicas} tasks run"
                    + (f", update {state}" if state else ""),
                    hint=_fix_hint(spec),
                )
            time.sleep(_POLL_SECONDS)

    def _stable(
        self, task: dict[str, Any], first_seen_running: dict[str, float], now: float
    ) -> bool:
        """Whether a running task has proven itself: healthy, or up for the monitor window."""
        container = self._task_container(task)
        health = container_observation(container).health if container else Health.UNKNOWN
        if health is Health.HEALTHY:
            return True
        if health is not Health.UNKNOWN:  # starting or unhealthy: not yet
            return False
        return now - first_seen_running[str(task.get("ID"))] >= self._monitor_seconds

    def _task_ids(self, name: str) -> set[str]:
        """The ids of every task the service `name` has now (none when it does not exist)."""
        attrs = self._inspect(name)
        if attrs is None:
            return set()
        return {str(task.get("ID")) for task in self._tasks(attrs["ID"])}

    def _observation(self, attrs: dict[str, Any], tasks: _Tasks) -> Observation:
        release = _service_labels(attrs).get(RELEASE_LABEL)
        restarts = len(tasks.ended)
        if not tasks.converged:
            failing = bool(tasks.failed) or _update_state(attrs) in _PAUSED
            last = tasks.failed[-1] if tasks.failed else None
            container = self._task_container(last) if last is not None else None
            return Observation(
                health=Health.UNHEALTHY if failing else Health.STARTING,
                running=False,
                release=release,
                restarts=restarts,
                exit_code=_exit_code(last) if last is not None else None,
                oom_killed=bool(((container or {}).get("State") or {}).get("OOMKilled")),
                detail=self._failure(tasks) if failing else "",
            )
        seen = [self._container_observation(task) for task in tasks.running]
        unhealthy = [o for o in seen if o.health is Health.UNHEALTHY]
        if unhealthy:
            health, detail = Health.UNHEALTHY, unhealthy[0].detail
        elif all(o.health is Health.HEALTHY for o in seen):
            health, detail = Health.HEALTHY, ""
        elif any(o.health is Health.STARTING for o in seen):
            health, detail = Health.STARTING, ""
        else:
            health, detail = Health.UNKNOWN, ""
        return Observation(
            health=health,
            running=True,
            release=release,
            restarts=restarts,
            oom_killed=any(o.oom_killed for o in seen),
            detail=detail,
        )

    def _container_observation(self, task: dict[str, Any]) -> Observation:
        """The task's container as this engine sees it; from the task when it runs elsewhere."""
        container = self._task_container(task)
        if container is None:
            return Observation(health=Health.HEALTHY)  # Swarm runs a task once it is healthy
        return container_observation(container)

    def _task_container(self, task: dict[str, Any]) -> dict[str, Any] | None:
        container_id = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        if not container_id:
            return None
        try:
            attrs: dict[str, Any] = self._api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        return attrs

    def _failure(self, tasks: _Tasks, checks: Mapping[str, str] | None = None) -> str:
        """The error of the latest failed task, with its last failed health check (from its
        container, or from `checks`: task id → what its health check said while it ran, for
        a container Swarm has removed meanwhile)."""
        if not tasks.failed:
            return ""
        task = tasks.failed[-1]
        error = _task_error(task)
        container = self._task_container(task)
        output = _failed_check_output(container) if container is not None else ""
        output = output or (checks or {}).get(str(task.get("ID")), "")
        if output:
            error += f"; its health check said: {output}"
        return error

    def _remember_checks(self, tasks: Iterable[dict[str, Any]], checks: dict[str, str]) -> None:
        """Note what the health checks of tasks still under way said last, while they can."""
        for task in tasks:
            state = str((task.get("Status") or {}).get("State") or "")
            if state in _ENDED:
                continue
            container = self._task_container(task)
            output = _failed_check_output(container) if container is not None else ""
            if output:
                checks[str(task.get("ID"))] = output

    def _remove(self, name: str) -> None:
        attrs = self._inspect(name)
        if attrs is None:
            return
        found = _service_labels(attrs)
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
            time.sleep(_POLL_SECONDS)

    def _service_containers(self, service_id: str) -> list[dict[str, Any]]:
        label = f"com.docker.swarm.service.id={service_id}"
        rows: list[dict[str, Any]] = self._api.containers(all=True, filters={"label": label})
        return rows


def _spec(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return dict(attrs.get("Spec") or {})


def _container_spec(service_spec: Mapping[str, Any]) -> dict[str, Any]:
    return dict((service_spec.get("TaskTemplate") or {}).get("ContainerSpec") or {})


def _service_labels(attrs: Mapping[str, Any]) -> dict[str, str]:
    return dict(_spec(attrs).get("Labels") or {})


def _runs(service_spec: Mapping[str, Any], spec: RunSpec) -> bool:
    """Whether a service spec (or a PreviousSpec) is the one `spec` makes."""
    replicas = ((service_spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    return _container_runs(_container_spec(service_spec), spec) and replicas == spec.replicas


def _container_runs(container: Mapping[str, Any], spec: RunSpec) -> bool:
    """Whether a service's or task's ContainerSpec runs `spec`'s image, environment and labels."""
    return (
        container.get("Image") == spec.image
        and (container.get("Labels") or {}) == labels(spec)
        and sorted(container.get("Env") or [])
        == sorted(f"{k}={v}" for k, v in spec.environment.items())
    )


def _check_ours(attrs: Mapping[str, Any], spec: RunSpec) -> None:
    service_labels = _service_labels(attrs)
    if (
        service_labels.get(BOT_LABEL) != spec.bot
        or service_labels.get(ENV_LABEL) != spec.env
        or instance_of(service_labels) != spec.instance
    ):
        raise RuntimeFailure(
            f"a Swarm service named {spec.name} exists that chatops does not manage "
            f"as instance {spec.instance!r}",
            hint=f"remove or rename it (`docker service rm {spec.name}`), or give this "
            "installation another `instance` in chatops.yaml, then deploy again",
        )


def _update_state(attrs: Mapping[str, Any]) -> str | None:
    state = (attrs.get("UpdateStatus") or {}).get("State")
    return str(state) if state else None


def _current_tasks(
    attrs: Mapping[str, Any], tasks: Iterable[dict[str, Any]], release: RunSpec | None = None
) -> _Tasks:
    """The service's tasks of its current spec (or of `release`): all that run, and those that
    ended since its last update began (a rollback keeps the old tasks that still run)."""
    spec = _spec(attrs)
    container = _container_spec(spec)

    def wanted(task: dict[str, Any]) -> bool:
        of_task = _task_container_spec(task)
        return of_task == container if release is None else _container_runs(of_task, release)

    since = _time((attrs.get("UpdateStatus") or {}).get("StartedAt"))
    current = sorted(filter(wanted, tasks), key=lambda task: _time(task.get("CreatedAt")) or _EPOCH)

    def state(task: dict[str, Any]) -> str:
        return str((task.get("Status") or {}).get("State") or "")

    def recent(task: dict[str, Any]) -> bool:
        created = _time(task.get("CreatedAt"))
        return since is None or created is None or created >= since

    replicas = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    return _Tasks(
        replicas=int(replicas if replicas is not None else 1),
        running=[
            t for t in current if state(t) == "running" and t.get("DesiredState") == "running"
        ],
        failed=[t for t in current if state(t) in _FAILED and recent(t)],
        ended=[t for t in current if state(t) in _ENDED and recent(t)],
    )


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _task_container_spec(task: Mapping[str, Any]) -> dict[str, Any]:
    return dict((task.get("Spec") or {}).get("ContainerSpec") or {})


def _failed_check_output(container: Mapping[str, Any]) -> str:
    check = last_failed_check(container.get("State") or {})
    return one_line(str(check.get("Output") or "")) if check is not None else ""


def _exit_code(task: Mapping[str, Any]) -> int | None:
    code = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")
    return int(code) if code is not None else None


def _task_error(task: Mapping[str, Any]) -> str:
    status = task.get("Status") or {}
    error = one_line(str(status.get("Err") or ""))
    if error:
        return error
    code = _exit_code(task)
    state = status.get("State") or "ended"
    return f"a task {state}" + (f" with exit code {code}" if code is not None else "")


def _last_lines(text: str, lines: int) -> str:
    """The last `lines` of the timestamped output of several tasks, in time order, unstamped."""
    rows: list[tuple[datetime, int, str]] = []
    when = _EPOCH
    for index, line in enumerate(text.splitlines()):
        stamp, _, message = line.partition(" ")
        stamped = _time(stamp)
        if stamped is None:  # not a timestamp: a line of its own at the time of the last one
            message = line
        else:
            when = stamped
        rows.append((when, index, message))
    rows.sort()
    kept = [message for _, _, message in rows][-lines:] if lines > 0 else []
    return "".join(line + "\n" for line in kept)


def _lost_race(exc: docker.errors.APIError) -> bool:
    return "out of sequence" in str(exc.explanation or exc)


def _fix_hint(spec: RunSpec) -> str:
    return (
        f"see `docker service ps --no-trunc {spec.name}` on a Swarm manager, fix the release, "
        "and deploy again"
    )


@contextlib.contextmanager
def _swarm(action: str) -> Iterator[None]:
    """Like `engine_errors`, with what to do when the engine is no manager."""
    try:
        with engine_errors(action):
            yield
    except RuntimeFailure as exc:
        cause = exc.__cause__
        if (
            isinstance(cause, docker.errors.APIError)
            and cause.status_code == 503
            and "swarm" in str(cause.explanation).lower()
        ):
            raise RuntimeFailure(exc.message, hint=_SWARM_HINT) from cause
        raise
