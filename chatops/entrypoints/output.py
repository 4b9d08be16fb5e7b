"""The JSON shapes of DESIGN §6 and the plain-text tables, from service views.

Table cells are rich markup: what people or programs wrote (lock reasons, commit
subjects, alert summaries, user names) is escaped, so it shows as written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from chatops.domain.alerts import Alert
from chatops.domain.audit import AuditEvent
from chatops.domain.deployment import Deployment
from chatops.domain.policy import Lock, LockKind
from chatops.domain.verification import Assessment, Measurement
from chatops.entrypoints.terminal import escape
from chatops.services.views import ReleaseRow, StatusRow

__all__ = [
    "alert_json",
    "audit_json",
    "deployment_json",
    "lock_json",
    "measurement_json",
    "release_json",
    "releases_table",
    "status_json",
    "status_table",
    "verification_json",
]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": deployment.id,
        "state": str(deployment.state),
        "version": deployment.version,
        "reason": deployment.reason or "",
        "bot": deployment.bot,
        "env": deployment.env,
        "kind": str(deployment.kind),
        "commit": deployment.commit,
        "requested_by": deployment.requested_by,
        "requested_at": _iso(deployment.requested_at),
        "live_at": _iso(deployment.live_at),
        "finished_at": _iso(deployment.finished_at),
        "previous_version": deployment.previous_version,
        "cancel_requested_by": deployment.cancel_requested_by,
    }


def release_json(row: ReleaseRow) -> dict[str, Any]:
    release = row.release
    return {
        "version": release.version,
        "tag": release.tag,
        "commit": release.commit,
        "image": release.image,
        "digest": release.digest,
        "image_id": release.image_id,
        "subject": release.subject,
        "created_by": release.created_by,
        "created_at": _iso(release.created_at),
        "live_in": list(row.live_in),
        "was_live_in": list(row.was_live_in),
        "approved_by": list(row.approved_by),
        "deployment_id": release.deployment_id,
        "verification": {env: verification_json(a) for env, a in row.verification},
        "rolled_back": [
            {
                "env": back.env,
                "by": back.by,
                "reason": back.reason,
                "deployment_id": back.deployment_id,
                "to_version": back.to_version,
            }
            for back in row.rolled_back
        ],
    }


def verification_json(assessment: Assessment) -> dict[str, Any]:
    return {
        "state": str(assessment.state),
        "measurements": assessment.measured,
        "failures": dict(assessment.failures),
        "reason": assessment.reason,
    }


def measurement_json(measurement: Measurement) -> dict[str, Any]:
    return {
        "check": measurement.check,
        "value": measurement.value,
        "verdict": str(measurement.verdict),
        "at": _iso(measurement.at),
        "detail": measurement.detail,
    }


def lock_json(lock: Lock) -> dict[str, Any]:
    return {
        "bot": lock.bot,
        "env": lock.env,
        "held_by": lock.held_by,
        "reason": lock.reason,
        "kind": str(lock.kind),
        "created_at": _iso(lock.created_at),
        "expires_at": _iso(lock.expires_at),
    }


def _person_lock(lock: Lock | None) -> dict[str, Any] | None:
    """A person's `lock`: never the automatic hold a rollback leaves."""
    if lock is None or lock.kind is LockKind.ROLLBACK_HOLD:
        return None
    return {"by": lock.held_by, "reason": lock.reason, "until": _iso(lock.expires_at)}


def _rollback_hold(lock: Lock | None) -> dict[str, Any] | None:
    """The hold on automatic deploys a rollback leaves (lifted by a deploy on purpose)."""
    if lock is None or lock.kind is not LockKind.ROLLBACK_HOLD:
        return None
    return {"reason": lock.reason, "since": _iso(lock.created_at)}


def status_json(row: StatusRow) -> dict[str, Any]:
    deployment = row.deployment
    return {
        "bot": row.bot,
        "env": row.env,
        "version": deployment.version if deployment else None,
        "commit": row.commit,
        "state": str(deployment.state) if deployment else None,
        "health": str(row.health),
        "deployment_id": deployment.id if deployment else None,
        "live_since": _iso(deployment.live_at) if deployment else None,
        "in_progress": deployment_json(row.in_progress) if row.in_progress else None,
        "pending_approval": [p.id for p in row.pending],
        "lock": _person_lock(row.lock),
        "hold": _rollback_hold(row.lock),
        "open_alerts": [
            {"id": a.id, "state": str(a.state), "summary": a.summary, "count": a.count}
            for a in row.open_alerts
        ],
        "verification": verification_json(row.verification) if row.verification else None,
    }


def audit_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "source": event.source,
        "action": event.action,
        "outcome": str(event.outcome),
        "bot": event.bot,
        "env": event.env,
        "deployment_id": event.deployment_id,
        "detail": event.detail,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "bot": alert.bot,
        "env": alert.env,
        "source": alert.source,
        "state": str(alert.state),
        "summary": alert.summary,
        "detail": alert.detail,
        "count": alert.count,
        "version": alert.version,
        "deployment_id": alert.deployment_id,
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "acked_by": alert.acked_by,
        "resolved_at": _iso(alert.resolved_at),
        "action_taken": alert.action_taken,
    }


def releases_table(rows: list[ReleaseRow], *, bot: str) -> RenderableType:
    """The releases, then one line per rollback away from one of them, with its reason."""
    notes = [
        Text(f"{row.release.name} rolled back in {back.env} by {back.by}")
        + Text(f": {back.reason}" if back.reason else "")
        for row in rows
        for back in row.rolled_back
    ]
    return Group(_releases(rows, bot=bot), *notes)


def _releases(rows: list[ReleaseRow], *, bot: str) -> Table:
    table = Table(title=f"releases of {bot}", title_justify="left")
    for column in ("version", "commit", "subject", "by", "when", "live in", "was live in"):
        table.add_column(column)
    for row in rows:
        release = row.release
        table.add_row(
            release.name,
            release.commit[:8],
            escape(release.subject[:50]),
            escape(release.created_by),
            f"{release.created_at:%Y-%m-%d %H:%M}",
            escape(", ".join(row.live_in)) or "-",
            escape(", ".join(row.was_live_in)) or "-",
        )
    return table


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_table(rows: list[StatusRow]) -> Table:
    table = Table(title="status", title_justify="left")
    for column in ("bot", "env", "version", "commit", "health", "since", "notes"):
        table.add_column(column)
    for row in rows:
        deployment = row.deployment
        notes = []
        if row.in_progress:
            notes.append(f"#{row.in_progress.id} {row.in_progress.state}")
        notes.extend(f"#{p.id} awaits approval" for p in row.pending)
        if row.lock and row.lock.kind is LockKind.ROLLBACK_HOLD:
            notes.append("auto-deploys held after a rollback")
        elif row.lock:
            notes.append(escape(row.lock.describe()))
        notes.extend(f"alert #{a.id}: {escape(_cut(a.summary, 60))}" for a in row.open_alerts)
        if row.verification is not None:
            notes.append(escape(row.verification.summary()))
        health_style = {"healthy": "green", "unhealthy": "red"}.get(str(row.health), "yellow")
        table.add_row(
            escape(row.bot),
            escape(row.env),
            f"v{deployment.version}" if deployment and deployment.version else "-",
            (row.commit or "")[:8] or "-",
            f"[{health_style}]{row.health}[/]",
            f"{deployment.live_at:%Y-%m-%d %H:%M}" if deployment and deployment.live_at else "-",
            "; ".join(notes) or "",
        )
    return table
