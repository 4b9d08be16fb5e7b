"""Read models the services hand to entrypoints and notifiers: everything a message shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chatops.domain.alerts import Alert
from chatops.domain.approvals import Tally
from chatops.domain.deployment import Commit, Deployment, Release
from chatops.domain.health import Health
from chatops.domain.policy import Lock
from chatops.domain.verification import Assessment

__all__ = ["AlertView", "DeploymentView", "ReleaseRow", "RolledBack", "StatusRow"]


@dataclass(frozen=True, slots=True)
class DeploymentView:
    deployment: Deployment
    channel: str | None
    release: Release | None = None
    previous: Release | None = None
    tally: Tally | None = None
    decided_by: str | None = None  # who rejected, or whose approval completed it
    changes: tuple[Commit, ...] = ()
    more_changes: int = 0
    compare_url: str | None = None
    promote_to: str | None = None  # the environment a Promote button would target
    rollback_to: int | None = None  # of a live deployment: the version a Rollback goes to
    hold_note: str | None = None  # "automatic deploys are held …" after a rollback
    verification: Assessment | None = None  # of a live deployment, where its env has `verify`
    now: datetime | None = None
    page_url: str | None = None  # its web page (`public_url`)


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: Alert
    channel: str | None
    release: Release | None = None
    deployed_by: str | None = None
    rollback_to: int | None = None  # the version a Rollback button would go to
    page_url: str | None = None  # the web page of the alert's deployment (`public_url`)


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    release: Release
    live_in: tuple[str, ...] = ()
    was_live_in: tuple[str, ...] = ()
    approved_by: tuple[str, ...] = ()
    verification: tuple[tuple[str, Assessment], ...] = ()  # (env, state) where it is live
    rolled_back: tuple[RolledBack, ...] = ()  # rollbacks away from this release, oldest first


@dataclass(frozen=True, slots=True)
class RolledBack:
    """A person's rollback away from a release, and why."""

    env: str
    by: str
    reason: str | None
    deployment_id: int | None
    to_version: int | None


@dataclass(frozen=True, slots=True)
class StatusRow:
    bot: str
    env: str
    deployment: Deployment | None
    health: Health = Health.UNKNOWN
    lock: Lock | None = None
    pending: tuple[Deployment, ...] = ()
    in_progress: Deployment | None = None
    open_alerts: tuple[Alert, ...] = field(default_factory=tuple)
    verification: Assessment | None = None  # where the environment has `verify`

    @property
    def commit(self) -> str | None:
        return self.deployment.commit if self.deployment else None
