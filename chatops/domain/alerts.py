"""Alerts: a health problem of a live deployment, firing → acknowledged → resolved.

One alert per incident: repeats bump its count instead of opening another.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Alert", "AlertState"]


class AlertState(enum.StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    bot: str
    env: str
    source: str  # "chatops" (own checks), "alertmanager"
    fingerprint: str  # one incident: the Alertmanager fingerprint, or chatops' own key
    summary: str
    first_seen: datetime
    last_seen: datetime
    state: AlertState = AlertState.FIRING
    deployment_id: int | None = None
    version: int | None = None
    detail: str = ""
    count: int = 1
    acked_by: str | None = None
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    action_taken: str = ""  # e.g. "rolled back automatically to v1"
    id: int | None = None

    @property
    def open(self) -> bool:
        return self.state is not AlertState.RESOLVED

    def repeat(self, *, at: datetime, detail: str | None = None) -> Alert:
        return dataclasses.replace(
            self, count=self.count + 1, last_seen=at, detail=detail or self.detail
        )

    def acknowledge(self, *, by: str, at: datetime) -> Alert:
        if self.state is not AlertState.FIRING:
            return self
        return dataclasses.replace(self, state=AlertState.ACKNOWLEDGED, acked_by=by, acked_at=at)

    def resolve(self, *, at: datetime) -> Alert:
        if self.state is AlertState.RESOLVED:
            return self
        return dataclasses.replace(self, state=AlertState.RESOLVED, resolved_at=at, last_seen=at)
