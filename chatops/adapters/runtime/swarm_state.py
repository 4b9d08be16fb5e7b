"""What a Swarm manager's answers say: pure readers of service and task attributes.

The engine answers with the JSON of services (`Spec`, `PreviousSpec`, `UpdateStatus`)
and tasks (`Spec.ContainerSpec`, `Status`); these functions pick out which spec runs,
which tasks belong to it, how an update is going and why a task failed, and turn the
engine's refusals into chatops' errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docker.errors

from chatops.adapters.docker_client import (
    BOT_LABEL,
    ENV_LABEL,
    engine_errors,
    instance_of,
    labels,
    last_failed_check,
    one_line,
)
from chatops.errors import RuntimeFailure
from chatops.services.ports import RunSpec

__all__ = [
    "ENDED",
    "EPOCH",
    "FAILED",
    "NANO",
    "PAUSED",
    "POLL_SECONDS",
    "SETTLED",
    "UPDATING",
    "Tasks",
    "check_ours",
    "container_runs",
    "container_spec_of",
    "current_tasks",
    "exit_code",
    "failed_check_output",
    "fix_hint",
    "labels_of",
    "last_lines",
    "lost_race",
    "parse_time",
    "runs",
    "spec_of",
    "swarm_errors",
    "task_container_spec",
    "task_error",
    "update_state",
]

NANO = 1_000_000_000
POLL_SECONDS = 0.25
EPOCH = datetime.fromtimestamp(0, UTC)
SETTLED = frozenset({"completed", "rollback_completed"})  # or no update status at all
PAUSED = frozenset({"paused", "rollback_paused"})
UPDATING = frozenset({"updating", "paused"})
FAILED = frozenset({"failed", "rejected", "complete", "orphaned"})
ENDED = FAILED | {"shutdown"}
_SWARM_HINT = (
    "the `swarm` runtime needs a Docker Engine that is a Swarm manager: run "
    "`docker swarm init` there, or point `docker_host` of the environment at a manager"
)


@dataclass(frozen=True, slots=True)
class Tasks:
    """Tasks of one spec of a service, oldest first: those that run, and since the service's
    last update began, those that ended."""

    replicas: int
    running: list[dict[str, Any]]
    failed: list[dict[str, Any]]  # exited, rejected: what keeps a service from converging
    ended: list[dict[str, Any]]  # failed or shut down: what Swarm replaced

    @property
    def converged(self) -> bool:
        return len(self.running) >= max(1, self.replicas)


def spec_of(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return dict(attrs.get("Spec") or {})


def container_spec_of(service_spec: Mapping[str, Any]) -> dict[str, Any]:
    return dict((service_spec.get("TaskTemplate") or {}).get("ContainerSpec") or {})


def labels_of(attrs: Mapping[str, Any]) -> dict[str, str]:
    return dict(spec_of(attrs).get("Labels") or {})


def runs(service_spec: Mapping[str, Any], spec: RunSpec) -> bool:
    """Whether a service spec (or a PreviousSpec) is the one `spec` makes."""
    replicas = ((service_spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    return container_runs(container_spec_of(service_spec), spec) and replicas == spec.replicas


def container_runs(container: Mapping[str, Any], spec: RunSpec) -> bool:
    """Whether a service's or task's ContainerSpec runs `spec`'s image, environment and labels."""
    return (
        container.get("Image") == spec.image
        and (container.get("Labels") or {}) == labels(spec)
        and sorted(container.get("Env") or [])
        == sorted(f"{k}={v}" for k, v in spec.environment.items())
    )


def check_ours(attrs: Mapping[str, Any], spec: RunSpec) -> None:
    service_labels = labels_of(attrs)
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


def update_state(attrs: Mapping[str, Any]) -> str | None:
    state = (attrs.get("UpdateStatus") or {}).get("State")
    return str(state) if state else None


def current_tasks(
    attrs: Mapping[str, Any], tasks: Iterable[dict[str, Any]], release: RunSpec | None = None
) -> Tasks:
    """The service's tasks of its current spec (or of `release`): all that run, and those that
    ended since its last update began (a rollback keeps the old tasks that still run)."""
    spec = spec_of(attrs)
    container = container_spec_of(spec)

    def wanted(task: dict[str, Any]) -> bool:
        of_task = task_container_spec(task)
        return of_task == container if release is None else container_runs(of_task, release)

    since = parse_time((attrs.get("UpdateStatus") or {}).get("StartedAt"))
    current = sorted(
        filter(wanted, tasks), key=lambda task: parse_time(task.get("CreatedAt")) or EPOCH
    )

    def state(task: dict[str, Any]) -> str:
        return str((task.get("Status") or {}).get("State") or "")

    def recent(task: dict[str, Any]) -> bool:
        created = parse_time(task.get("CreatedAt"))
        return since is None or created is None or created >= since

    replicas = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    return Tasks(
        replicas=int(replicas if replicas is not None else 1),
        running=[
            t for t in current if state(t) == "running" and t.get("DesiredState") == "running"
        ],
        failed=[t for t in current if state(t) in FAILED and recent(t)],
        ended=[t for t in current if state(t) in ENDED and recent(t)],
    )


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def task_container_spec(task: Mapping[str, Any]) -> dict[str, Any]:
    return dict((task.get("Spec") or {}).get("ContainerSpec") or {})


def failed_check_output(container: Mapping[str, Any]) -> str:
    check = last_failed_check(container.get("State") or {})
    return one_line(str(check.get("Output") or "")) if check is not None else ""


def exit_code(task: Mapping[str, Any]) -> int | None:
    code = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")
    return int(code) if code is not None else None


def task_error(task: Mapping[str, Any]) -> str:
    status = task.get("Status") or {}
    error = one_line(str(status.get("Err") or ""))
    if error:
        return error
    code = exit_code(task)
    state = status.get("State") or "ended"
    return f"a task {state}" + (f" with exit code {code}" if code is not None else "")


def last_lines(text: str, lines: int) -> str:
    """The last `lines` of the timestamped output of several tasks, in time order, unstamped."""
    rows: list[tuple[datetime, int, str]] = []
    when = EPOCH
    for index, line in enumerate(text.splitlines()):
        stamp, _, message = line.partition(" ")
        stamped = parse_time(stamp)
        if stamped is None:  # not a timestamp: a line of its own at the time of the last one
            message = line
        else:
            when = stamped
        rows.append((when, index, message))
    rows.sort()
    kept = [message for _, _, message in rows][-lines:] if lines > 0 else []
    return "".join(line + "\n" for line in kept)


def lost_race(exc: docker.errors.APIError) -> bool:
    return "out of sequence" in str(exc.explanation or exc)


def fix_hint(spec: RunSpec) -> str:
    return (
        f"see `docker service ps --no-trunc {spec.name}` on a Swarm manager, fix the release, "
        "and deploy again"
    )


@contextlib.contextmanager
def swarm_errors(action: str) -> Iterator[None]:
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
