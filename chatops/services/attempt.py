"""One run of the pipeline over one deployment, and how it saves its steps.

Every save is a compare-and-set from the revision this run last read or wrote:
when another process changed the row meanwhile — `/cancel` recorded a request,
or recovery or a cancel ended it — the save is refused and this run learns
why, as the exception it raises: Stopped (end it failed with that reason) or
TakenOver (it was ended elsewhere; stand down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chatops.domain.deployment import Deployment, Event
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError
from chatops.services.context import Deps, required
from chatops.services.ports import Conflict, RunSpec
from chatops.services.queries import announce

__all__ = ["Attempt", "Stopped", "TakenOver", "advance", "check", "interrupted", "look", "save"]


class Stopped(ChatOpsError):
    """The deployment was cancelled, or its build ran out of time: it ends failed."""


class TakenOver(Exception):
    """Someone else ended the deployment meanwhile (a cancel while queued, recovery)."""

    def __init__(self, current: Deployment) -> None:
        super().__init__(f"deployment #{current.id} is {current.state} now")
        self.current = current


@dataclass(slots=True)
class Attempt:
    """What one run of the pipeline has learnt and touched so far."""

    deployment: Deployment  # as this run last read or saved it
    redact: Redactor
    started: float
    secrets: dict[str, str] = field(default_factory=dict)
    runtime_touched: bool = False
    previous: RunSpec | None = None
    log_tail: str | None = None  # the build output to keep with a failure
    stop: Exception | None = None  # why the build was stopped
    checked: datetime | None = None  # when the row was last looked at

    @property
    def deployment_id(self) -> int:
        return required(self.deployment.id, "the deployment id")


def interrupted(current: Deployment) -> Exception:
    """What a run raises on finding `current` changed by someone else."""
    if not current.in_progress:
        return TakenOver(current)
    if current.cancel_requested_by:
        return Stopped(f"cancelled by {current.cancel_requested_by}")
    return Stopped(f"#{current.id} was changed by another process while it ran")


def save(deps: Deps, attempt: Attempt, deployment: Deployment) -> None:
    """Save `deployment` (read at `attempt`'s revision) in a transaction of its own.

    Raises:
        Stopped, TakenOver: someone else changed it since (see `interrupted`).
    """
    try:
        with deps.uow() as uow:
            attempt.deployment = uow.deployments.save(deployment)
            uow.commit()
    except Conflict as conflict:
        raise interrupted(conflict.current) from None


def advance(deps: Deps, attempt: Attempt, event: Event, **changes: object) -> None:
    """Move the deployment on by `event`, save it and tell the channel."""
    deployment = attempt.deployment.advance(event, at=deps.clock.now())
    if changes:
        deployment = deployment.with_changes(**changes)
    save(deps, attempt, deployment)
    announce(deps, attempt.deployment)


def check(deps: Deps, attempt: Attempt) -> None:
    """Read the row; raise as `save` would when it changed since this run saved it."""
    with deps.uow() as uow:
        current = uow.deployments.get(attempt.deployment_id)
    current = required(current, "the deployment")
    attempt.checked = deps.clock.now()
    if current.revision != attempt.deployment.revision:
        raise interrupted(current)


def look(deps: Deps, attempt: Attempt) -> None:
    """`check`, at most once per `cancel_poll_seconds` (for loops that wait)."""
    every = timedelta(seconds=deps.tuning.cancel_poll_seconds)
    if attempt.checked is None or deps.clock.now() - attempt.checked >= every:
        check(deps, attempt)
