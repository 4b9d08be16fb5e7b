"""Audit events: every command and button press, who, what, where, when, outcome."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["AuditEvent", "Outcome"]


class Outcome(enum.StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str
    action: str  # deploy, promote, approve, reject, rollback, lock, unlock, ack_alert, ...
    outcome: Outcome
    source: str = "cli"  # cli, slack, console, webhook, scheduler, recovery
    bot: str | None = None
    env: str | None = None
    deployment_id: int | None = None
    detail: str = ""
    id: int | None = None
