"""The port through which status is read: what runs where, in a handful of queries.

`status` (CLI, Slack) and the web overview show every bot in every environment:
hundreds of rows. Read through the repositories, each row is an ORM object turned
into a domain value, refreshed and tracked for writes that never come; through this
port an adapter reads plain rows once, read-only, and builds the domain values directly.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chatops.domain.alerts import Alert
from chatops.domain.deployment import Deployment
from chatops.domain.policy import Lock

__all__ = ["Spell", "StatusFacts", "StatusReads"]


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
