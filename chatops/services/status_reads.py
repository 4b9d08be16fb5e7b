"""The port through which status is read: what runs where, in a handful of queries.

`status` (CLI, Slack) and the web overview show every bot in every environment:
hundreds of rows. Read through the repositories, each row is an ORM object turned
into a domain value, refreshed and tracked for writes that never come; through this
port an adapter reads plain rows once, read-only, and builds the domain values directly.

`Reads` is everything `status` and `releases` read: a unit of work is one, and the
CLI's read commands get one that needs neither SQLAlchemy nor a migration check's
imports (adapters/db/plain_reads.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from chatops.domain.alerts import Alert
from chatops.domain.approvals import Vote
from chatops.domain.deployment import Deployment, Release
from chatops.domain.policy import Lock
from chatops.domain.verification import Tally

__all__ = [
    "DeploymentReads",
    "Reads",
    "ReadsFactory",
    "ReleaseReads",
    "Spell",
    "StatusFacts",
    "StatusReads",
    "TallyReads",
    "VoteReads",
]


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """Everything status shows but verification, as recorded."""

    live: list[Deployment]  # State.LIVE, oldest first
    active: list[Deployment]  # ACTIVE_STATES (queued … pending approval), oldest first
    locks: list[Lock]  # every lock, expired ones included
    open_alerts: list[Alert]  # not resolved, oldest first


@dataclass(frozen=True, slots=True)
class Spell:
    """A deployment's time live, as far as a run needs it (`runs.run_in`)."""

    id: int
    bot: str
    version: int | None
    live_at: datetime


class StatusReads(Protocol):
    def facts(self, bot: str | None = None) -> StatusFacts:
        """What status shows of `bot` (every bot when None)."""
        ...

    def runs_before(
        self, env: str, bots: Collection[str], *, limit: int, leave_out: Collection[int]
    ) -> list[Spell]:
        """Of the newest `limit` deployments of each of `bots` in `env`, those that
        reached live, but those in `leave_out`, newest first: where runs began."""
        ...


class ReleaseReads(Protocol):
    def list(self, bot: str, limit: int = 20) -> list[Release]:
        """The newest `limit` releases of `bot`, newest first."""
        ...


class DeploymentReads(Protocol):
    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]:
        """The newest `limit` deployments of `bot` (in `env`), newest first."""
        ...


class VoteReads(Protocol):
    def list(self, deployment_id: int) -> list[Vote]:
        """The decisions on one deployment, oldest first."""
        ...


class TallyReads(Protocol):
    def tallies(self, deployment_ids: Collection[int]) -> list[Tally]:
        """The measurements of these deployments (one run) summed up per (check, verdict)."""
        ...

    def tallies_by_deployment(self, deployment_ids: Collection[int]) -> dict[int, list[Tally]]:
        """`tallies` of each of these deployments."""
        ...


class Reads(Protocol):
    """A read-only look at the store: what `status` and `releases` show.

    A unit of work is one (it writes nothing it is not asked to); the CLI's read
    commands get one on the DB-API alone, which starts in a fraction of the time.
    """

    @property
    def status(self) -> StatusReads: ...
    @property
    def releases(self) -> ReleaseReads: ...
    @property
    def deployments(self) -> DeploymentReads: ...
    @property
    def votes(self) -> VoteReads: ...
    @property
    def measurements(self) -> TallyReads: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


ReadsFactory = Callable[[], Reads]
