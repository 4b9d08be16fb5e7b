"""What chatops asks Swarm for: the service spec of a release, and how it is updated."""

from __future__ import annotations

from typing import Any, Literal

from docker.types import Resources, RestartPolicy, RollbackConfig, ServiceMode, UpdateConfig

from chatops.adapters.docker_client import labels, nano_cpus
from chatops.adapters.runtime.swarm_state import NANO
from chatops.domain.catalog import Strategy
from chatops.services.ports import RunSpec

__all__ = ["RESTART_DELAY", "service_kwargs"]

RESTART_DELAY = 5 * NANO  # Swarm's own default, which the SDK would send as 0


def service_kwargs(
    spec: RunSpec,
    *,
    restoring: bool,
    monitor_seconds: float,
    stop_timeout: int,
    log_max_size: str,
) -> dict[str, Any]:
    """The keyword arguments of `services.create` and `Service.update` that make `spec`.

    Args:
        spec: the release to run.
        restoring: whether it is the release `restore` brings back (its update carries on
            when a task fails, where a new release's is rolled back).
        monitor_seconds: how long Swarm watches each new task for a failure.
        stop_timeout: seconds a task has to exit after SIGTERM before it is killed.
        log_max_size: the json-file log's size limit per task.
    """
    order: Literal["start-first", "stop-first"] = (
        "start-first" if spec.strategy is Strategy.START_FIRST else "stop-first"
    )
    monitor = int(monitor_seconds * NANO)
    chatops_labels = labels(spec)
    return {
        "env": dict(spec.environment),
        "labels": chatops_labels,
        "container_labels": chatops_labels,
        "mode": ServiceMode("replicated", replicas=spec.replicas),
        "resources": Resources(cpu_limit=nano_cpus(spec), mem_limit=spec.resources.memory),
        "restart_policy": RestartPolicy(condition="on-failure", delay=RESTART_DELAY),
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
        "stop_grace_period": stop_timeout * NANO,
        "log_driver": "json-file",
        "log_driver_options": {"max-size": log_max_size},
    }
