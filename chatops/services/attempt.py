"""One run of the pipeline over one deployment, and how it saves its steps.

Every save is a compare-and-set from the revision this run last read or wrote:
when another process changed the row meanwhile — `/cancel` recorded a request,
or recovery or a cancel ended it — the save is refused and this run learns
why, as the exception it raises: Stopped (end it failed with that reason) or
TakenOver (it was ended elsewhere; stand down).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from chatops.domain.deployment import Deployment, Event
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError, StoreError
from chatops.services.announcer import Announcer
from chatops.services.context import Tuning, required
from chatops.services.ports import Clock, Conflict, RunSpec, UnitOfWorkFactory

__all__ = ["Attempt", "Steps", "Stopped", "TakenOver", "interrupted"]

log = logging.getLogger(__name__)

T = TypeVar("T")


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


class Steps:
    """Saves a run's steps as compare-and-sets, tells the channel, and looks for changes."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, announcer: Announcer, tuning: Tuning
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._announcer = announcer
        self.tuning = tuning

    def now(self) -> datetime:
        """The run's time (the one clock of every step)."""
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def persisting(self, what: str, transaction: Callable[[], T]) -> T:
        """`transaction` (one unit of work), tried again while the database refuses or is
        out of reach (a restart): `tuning.store_retries` tries, the waits doubling from
        `store_retry_seconds`. What it raises but a StoreError is raised at once.

        Raises:
            StoreError: the database refused every try.
        """
        wait = self.tuning.store_retry_seconds
        for _ in range(1, self.tuning.store_retries):
            try:
                return transaction()
            except StoreError as exc:
                log.warning("could not %s: %s; trying again in %.1fs", what, exc, wait)
            self.sleep(wait)
            wait *= 2
        return transaction()

    def save(self, attempt: Attempt, deployment: Deployment) -> None:
        """Save `deployment` (read at `attempt`'s revision) in a transaction of its own.

        Raises:
            Stopped, TakenOver: someone else changed it since (see `interrupted`).
        """
        try:
            with self._uow() as uow:
                attempt.deployment = uow.deployments.save(deployment)
                uow.commit()
        except Conflict as conflict:
            raise interrupted(conflict.current) from None

    def advance(
        self,
        attempt: Attempt,
        event: Event,
        *,
        then: Callable[[Deployment], Deployment] | None = None,
    ) -> None:
        """Move the deployment on by `event` (and `then`), save it and tell the channel."""
        deployment = attempt.deployment.advance(event, at=self._clock.now())
        self.save(attempt, then(deployment) if then is not None else deployment)
        self.tell(attempt.deployment)

    def read(self, deployment_id: int) -> Deployment | None:
        """The deployment as it is recorded now."""
        with self._uow() as uow:
            return uow.deployments.get(deployment_id)

    def tell(self, deployment: Deployment) -> None:
        self._announcer.announce(deployment)

    def check(self, attempt: Attempt) -> None:
        """Read the row; raise as `save` would when it changed since this run saved it."""
        with self._uow() as uow:
            current = uow.deployments.get(attempt.deployment_id)
        current = required(current, "the deployment")
        attempt.checked = self._clock.now()
        if current.revision != attempt.deployment.revision:
            raise interrupted(current)

    def look(self, attempt: Attempt) -> None:
        """`check`, at most once per `cancel_poll_seconds` (for loops that wait)."""
        every = timedelta(seconds=self.tuning.cancel_poll_seconds)
        if attempt.checked is None or self._clock.now() - attempt.checked >= every:
            self.check(attempt)
