"""The store's ports: one repository per record, and the unit of work over them all.

The store refuses a write with SlotTaken (another deployment holds the slot the
new state needs) or Conflict (the row changed since it was read); both are in
chatops.errors and re-exported here, beside the repositories that raise them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from chatops.domain.alerts import Alert
from chatops.domain.approvals import Vote
from chatops.domain.audit import AuditEvent
from chatops.domain.deployment import Deployment, Release
from chatops.domain.policy import Lock
from chatops.domain.verification import Measurement, Tally
from chatops.errors import Conflict, SlotTaken
from chatops.services.ports.chat import MessageRef
from chatops.services.status_reads import StatusReads

__all__ = [
    "AlertRepository",
    "AuditLog",
    "Conflict",
    "DeliveryLog",
    "DeploymentRepository",
    "LeaseRepository",
    "LockRepository",
    "MeasurementRepository",
    "MessageRepository",
    "ReleaseRepository",
    "SlotTaken",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "VoteRepository",
    "WantedHead",
    "WantedHeads",
]


class ReleaseRepository(Protocol):
    def add(self, release: Release) -> Release: ...
    def get(self, bot: str, version: int) -> Release | None: ...
    def for_commit(self, bot: str, commit: str) -> Release | None: ...
    def list(self, bot: str, limit: int = 20) -> list[Release]: ...
    def highest_version(self, bot: str) -> int: ...


class DeploymentRepository(Protocol):
    def add(self, deployment: Deployment) -> Deployment:
        """Insert; returns it with its id.

        Raises:
            SlotTaken: another deployment holds the slot its state needs.
        """
        ...

    def save(self, deployment: Deployment) -> Deployment:
        """Update the row, only from the revision `deployment` was read at (compare-and-set).

        Returns:
            The deployment as saved, at its new revision.

        Raises:
            Conflict: the row was saved by someone else since it was read.
            SlotTaken: another deployment holds the slot its new state needs.
        """
        ...

    def get(self, deployment_id: int) -> Deployment | None: ...
    def get_for_update(self, deployment_id: int) -> Deployment | None: ...
    def holder(self, bot: str, env: str) -> Deployment | None:
        """The in-progress deployment of (bot, env), else the pending one."""
        ...

    def live(self, bot: str, env: str) -> Deployment | None: ...
    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]: ...
    def histories(
        self,
        env: str,
        bots: Collection[str],
        *,
        limit: int = 50,
        reached_live: bool = False,
        leave_out: Collection[int] = (),
    ) -> list[Deployment]:
        """`history(bot, env, limit)` of each of `bots` at once (newest first per bot);
        `reached_live`: only those of them that went live; `leave_out`: not these ids
        (they still count in `limit`)."""
        ...

    def in_state(self, states: Iterable[str], *, bot: str | None = None) -> list[Deployment]: ...
    def all_live(self) -> list[Deployment]: ...
    def heartbeat(self, owner: str, at: datetime, ids: Collection[int]) -> int:
        """Stamp `heartbeat_at` on those of `ids` that `owner` still runs; how many."""
        ...


class VoteRepository(Protocol):
    def put(self, vote: Vote) -> None:
        """Record a person's decision; a repeat of the same decision changes nothing."""
        ...

    def list(self, deployment_id: int) -> list[Vote]: ...


class LockRepository(Protocol):
    def get(self, bot: str, env: str) -> Lock | None: ...
    def put(self, lock: Lock) -> None: ...
    def delete(self, bot: str, env: str) -> bool: ...
    def list(self) -> list[Lock]: ...


class AuditLog(Protocol):
    def add(self, event: AuditEvent) -> None: ...
    def list(
        self,
        *,
        bot: str | None = None,
        deployment_id: int | None = None,
        limit: int = 100,
        env: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
    ) -> list[AuditEvent]:
        """Newest first; every filter given must match; `before_id` pages back."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete the events older than `before` (`retention.audit_days`); how many."""
        ...


class AlertRepository(Protocol):
    def add(self, alert: Alert) -> Alert: ...
    def save(self, alert: Alert) -> Alert: ...
    def get(self, alert_id: int) -> Alert | None: ...
    def open_for(self, bot: str, env: str, fingerprint: str) -> Alert | None: ...
    def open_alerts(self, bot: str | None = None) -> list[Alert]: ...
    def history(self, bot: str, limit: int = 100) -> list[Alert]:
        """A bot's alerts, open or not, newest first."""
        ...


class MessageRepository(Protocol):
    def get(self, subject: str) -> MessageRef | None: ...
    def put(self, subject: str, ref: MessageRef) -> None: ...
    def subject_of(self, ref: MessageRef) -> str | None: ...


class LeaseRepository(Protocol):
    def acquire(self, name: str, *, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the lease `name` unless another owner holds an unexpired one."""
        ...

    def release(self, name: str, *, owner: str) -> None: ...

    def holder(self, name: str) -> tuple[str, datetime] | None: ...


class MeasurementRepository(Protocol):
    """Verification measurements (DESIGN §10); append-only."""

    def add(self, measurement: Measurement) -> None: ...
    def for_deployments(
        self, deployment_ids: Collection[int], *, limit: int | None = None
    ) -> list[Measurement]:
        """Every measurement of these deployments (the newest `limit` of them), oldest first."""
        ...

    def tallies(self, deployment_ids: Collection[int]) -> list[Tally]:
        """Those measurements summed up per (check, verdict) (`verification.tally`)."""
        ...

    def tallies_by_deployment(self, deployment_ids: Collection[int]) -> dict[int, list[Tally]]:
        """`tallies([id])` of each of these deployments, at once (absent: no measurement)."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Delete measurements older than `before` of deployments no longer live."""
        ...


class DeliveryLog(Protocol):
    """Deliveries already handled (Slack retries, webhook delivery ids), shared by replicas."""

    def first_time(self, key: str, *, at: datetime) -> bool:
        """Record `key`; False when it was recorded before (a repeated delivery)."""
        ...

    def forget(self, key: str) -> None:
        """Drop `key`, so that a delivery that could not be handled may come again."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Drop what was seen before `before`; how many were dropped."""
        ...


@dataclass(frozen=True, slots=True)
class WantedHead:
    """A branch head that (bot, env) should run once the deployment holding it ends."""

    bot: str
    env: str
    commit: str
    requested_by: str
    at: datetime


class WantedHeads(Protocol):
    def put(self, wanted: WantedHead) -> None:
        """Record what (bot, env) should run next; a newer head replaces an older one."""
        ...

    def list(self) -> list[WantedHead]: ...

    def remove(self, wanted: WantedHead) -> bool:
        """Drop `wanted` unless a newer head replaced it meanwhile; whether it was dropped."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository; rolled back unless committed."""

    releases: ReleaseRepository
    deployments: DeploymentRepository
    votes: VoteRepository
    locks: LockRepository
    audit: AuditLog
    alerts: AlertRepository
    messages: MessageRepository
    leases: LeaseRepository
    deliveries: DeliveryLog
    wanted_heads: WantedHeads
    measurements: MeasurementRepository
    status: StatusReads  # read-only, for status and the web overview

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def ping(self) -> None:
        """Raises StoreError unless the database answers."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
