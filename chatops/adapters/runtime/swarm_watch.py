"""Watching one Swarm service: what its tasks are doing, and waiting until an update converged.

Reads only: the engine's view of a service, its tasks and their containers on this node.
`SwarmRuntime` changes services and asks a `ServiceWatch` how that went.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import docker
import docker.errors

from chatops.adapters.docker_client import RELEASE_LABEL, container_observation, one_line
from chatops.adapters.runtime.swarm_state import (
    ENDED,
    PAUSED,
    POLL_SECONDS,
    SETTLED,
    Tasks,
    container_runs,
    current_tasks,
    exit_code,
    failed_check_output,
    fix_hint,
    labels_of,
    runs,
    spec_of,
    task_container_spec,
    task_error,
    update_state,
)
from chatops.domain.health import Health, Observation
from chatops.errors import RuntimeFailure
from chatops.services.ports import RunSpec

__all__ = ["ServiceWatch"]


class ServiceWatch:
    """Reads Swarm services and their tasks through one manager's API client.

    Args:
        api: the low-level API client of a Swarm manager.
        monitor_seconds: how long a task without a HEALTHCHECK must be seen running
            before it counts as up.
        converge_timeout: seconds `converge` waits for a service to converge.
    """

    def __init__(
        self, api: docker.APIClient, *, monitor_seconds: float, converge_timeout: float
    ) -> None:
        self._api = api
        self._monitor_seconds = monitor_seconds
        self._converge_timeout = converge_timeout

    def inspect(self, ref: str) -> dict[str, Any] | None:
        """The attributes of the service `ref` (id or name), or None when there is none."""
        try:
            attrs: dict[str, Any] = self._api.inspect_service(ref)  # type: ignore[no-untyped-call]
        except docker.errors.NotFound:
            return None
        return attrs

    def tasks(self, service_id: str) -> list[dict[str, Any]]:
        """Every task Swarm keeps of the service, of any spec (none when it is gone)."""
        try:
            tasks: list[dict[str, Any]] = self._api.tasks(  # type: ignore[no-untyped-call]
                filters={"service": service_id}
            )
        except docker.errors.NotFound:  # the service is gone, and its tasks with it
            return []
        return [task for task in tasks if task.get("ServiceID") == service_id]

    def task_ids(self, name: str) -> set[str]:
        """The ids of every task the service `name` has now (none when it does not exist)."""
        attrs = self.inspect(name)
        if attrs is None:
            return set()
        return {str(task.get("ID")) for task in self.tasks(attrs["ID"])}

    def converge(
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
            attrs = self.inspect(service_id)
            if attrs is None:
                raise RuntimeFailure(f"{what} failed: the service was removed meanwhile")
            every = self.tasks(service_id)
            tasks = current_tasks(attrs, every)
            mine = current_tasks(attrs, every, spec)
            self._remember_checks(
                [t for t in every if container_runs(task_container_spec(t), spec)], checks
            )
            state = update_state(attrs) or ""
            status = one_line(str((attrs.get("UpdateStatus") or {}).get("Message") or ""))
            if not runs(spec_of(attrs), spec):
                if not state.startswith("rollback"):
                    raise RuntimeFailure(
                        f"{what} failed: the service was changed meanwhile, by another deployment?"
                    )
                failure = self._failure(mine, checks)
                raise RuntimeFailure(
                    f"{what} failed: {failure or 'a new task failed'}; Swarm rolled the update back"
                    + (f" ({status})" if status else ""),
                    hint=fix_hint(spec),
                )
            if state in PAUSED:
                failure = self._failure(tasks, checks)
                raise RuntimeFailure(
                    f"{what} failed: Swarm paused the update ({status})"
                    + (f": {failure}" if failure else ""),
                    hint=fix_hint(spec),
                )
            failed = [task for task in tasks.failed if task.get("ID") not in before]
            if len(failed) > tolerate:
                raise RuntimeFailure(
                    f"{what} failed: {self._failure(tasks, checks)}", hint=fix_hint(spec)
                )
            now = time.monotonic()
            for task in tasks.running:
                first_seen_running.setdefault(str(task.get("ID")), now)
            if (
                (not state or state in SETTLED)
                and tasks.converged
                and all(self._stable(task, first_seen_running, now) for task in tasks.running)
            ):
                return
            if now >= deadline:
                raise RuntimeFailure(
                    f"{what} did not converge within {self._converge_timeout:.0f}s: "
                    f"{len(tasks.running)} of {tasks.replicas} tasks run"
                    + (f", update {state}" if state else ""),
                    hint=fix_hint(spec),
                )
            time.sleep(POLL_SECONDS)

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

    def observation(self, attrs: dict[str, Any], tasks: Tasks) -> Observation:
        """What the service and its current `tasks` do (see `SwarmRuntime.observe`)."""
        release = labels_of(attrs).get(RELEASE_LABEL)
        restarts = len(tasks.ended)
        if not tasks.converged:
            failing = bool(tasks.failed) or update_state(attrs) in PAUSED
            last = tasks.failed[-1] if tasks.failed else None
            container = self._task_container(last) if last is not None else None
            return Observation(
                health=Health.UNHEALTHY if failing else Health.STARTING,
                running=False,
                release=release,
                restarts=restarts,
                exit_code=exit_code(last) if last is not None else None,
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

    def _failure(self, tasks: Tasks, checks: Mapping[str, str] | None = None) -> str:
        """The error of the latest failed task with a failed health check, and what that
        check said (from its container, or from `checks`: task id → what its health check
        said while it ran, for a container Swarm has removed meanwhile)."""
        if not tasks.failed:
            return ""
        # the latest task whose health check failed: a later one Swarm stopped while rolling
        # back (exit 143, before its first check) says less about why the release failed
        for task in reversed(tasks.failed):
            container = self._task_container(task)
            output = failed_check_output(container) if container is not None else ""
            output = output or (checks or {}).get(str(task.get("ID")), "")
            if output:
                return f"{task_error(task)}; its health check said: {output}"
        return task_error(tasks.failed[-1])

    def _remember_checks(self, tasks: Iterable[dict[str, Any]], checks: dict[str, str]) -> None:
        """Note what the health checks of tasks still under way said last, while they can."""
        for task in tasks:
            state = str((task.get("Status") or {}).get("State") or "")
            if state in ENDED:
                continue
            container = self._task_container(task)
            output = failed_check_output(container) if container is not None else ""
            if output:
                checks[str(task.get("ID"))] = output
