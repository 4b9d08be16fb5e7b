"""The plain words every medium uses for deployments and alerts: states, kinds, headlines, times.

Plain text only (no markup): Slack puts these in headers and buttons, the
terminal prints them, and each medium escapes them where it needs to.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chatops.domain.alerts import Alert, AlertState
from chatops.domain.deployment import ENDED_STATES, Deployment, Kind, State
from chatops.domain.health import Health
from chatops.domain.policy import format_duration
from chatops.services.views import DeploymentView

__all__ = [
    "ALERT_EMOJI",
    "ALERT_SOURCE",
    "HEALTH_EMOJI",
    "KIND_LABEL",
    "STATE_EMOJI",
    "STATE_PHRASE",
    "action",
    "alert_headline",
    "between",
    "cut",
    "elapsed",
    "headline",
    "is_slack_user",
    "target",
    "utc",
]

STATE_EMOJI: dict[State, str] = {
    State.PENDING_APPROVAL: "⏳",
    State.QUEUED: "🔄",
    State.BUILDING: "🔄",
    State.DEPLOYING: "🔄",
    State.VERIFYING: "🔄",
    State.LIVE: "✅",
    State.FAILED: "❌",
    State.REJECTED: "🚫",
    State.EXPIRED: "⌛",
    State.SUPERSEDED: "⏭️",
}
STATE_PHRASE: dict[State, str] = {
    State.PENDING_APPROVAL: "waiting for approval",
    State.QUEUED: "queued",
    State.BUILDING: "building the image",
    State.DEPLOYING: "deploying",
    State.VERIFYING: "checking health",
    State.LIVE: "live",
    State.FAILED: "failed",
    State.REJECTED: "rejected",
    State.EXPIRED: "expired",
    State.SUPERSEDED: "superseded",
}
KIND_LABEL: dict[Kind, str] = {
    Kind.DEPLOY: "deploy",
    Kind.PROMOTE: "promote",
    Kind.ROLLBACK: "rollback",
    Kind.AUTO_ROLLBACK: "auto-rollback",
}
ALERT_EMOJI: dict[AlertState, str] = {
    AlertState.FIRING: "🚨",
    AlertState.ACKNOWLEDGED: "👀",
    AlertState.RESOLVED: "✅",
}
ALERT_SOURCE: dict[str, str] = {
    "chatops": "chatops health checks",
    "alertmanager": "Alertmanager",
}
HEALTH_EMOJI: dict[Health, str] = {
    Health.HEALTHY: "🟢",
    Health.UNHEALTHY: "🔴",
    Health.STARTING: "🟡",
    Health.UNKNOWN: "⚪",
}

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


def is_slack_user(user: str) -> bool:
    """A Slack user id (`U0LEAD1`), as opposed to a CLI user's name or chatops itself."""
    return _SLACK_USER.fullmatch(user) is not None


def cut(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def between(start: datetime, end: datetime) -> str:
    """`1m 5s`: how long from `start` to `end`."""
    return format_duration(utc(end) - utc(start))


def target(deployment: Deployment) -> str:
    """What is being deployed: the version, else the ref, else the branch head."""
    if deployment.version:
        return f"v{deployment.version}"
    return deployment.ref or "branch head"


def action(deployment: Deployment) -> str:
    """`Deploy mybot v3 to staging`, `Roll back mybot in prod to v1`, …"""
    bot, env, what = deployment.bot, deployment.env, target(deployment)
    match deployment.kind:
        case Kind.DEPLOY:
            return f"Deploy {bot} {what} to {env}"
        case Kind.PROMOTE:
            return f"Promote {bot} {what} to {env}"
        case Kind.ROLLBACK:
            return f"Roll back {bot} in {env} to {what}"
        case Kind.AUTO_ROLLBACK:
            return f"Automatic rollback of {bot} in {env} to {what}"
    return f"{deployment.kind} {bot} {what} to {env}"  # pragma: no cover - new kinds


def headline(deployment: Deployment) -> str:
    """`✅ Deploy mybot v3 to staging: live`."""
    emoji = STATE_EMOJI.get(deployment.state, "•")
    phrase = STATE_PHRASE.get(deployment.state, str(deployment.state))
    return f"{emoji} {action(deployment)}: {phrase}"


def alert_headline(alert: Alert) -> str:
    """`🚨 Alert: mybot in prod`, `👀 … acknowledged`, `✅ Resolved: …`."""
    where = f"{alert.bot} in {alert.env}"
    match alert.state:
        case AlertState.ACKNOWLEDGED:
            return f"👀 Alert acknowledged: {where}"
        case AlertState.RESOLVED:
            return f"✅ Resolved: {where}"
    return f"🚨 Alert: {where}"


def _settled_at(deployment: Deployment) -> datetime | None:
    """When the deployment stopped moving: went live, or ended."""
    if deployment.state is State.LIVE:
        return deployment.live_at or deployment.updated_at
    if deployment.state in ENDED_STATES:
        # a release that went live and was later superseded took until it went live
        return deployment.live_at or deployment.finished_at or deployment.updated_at
    return None


def elapsed(view: DeploymentView) -> tuple[str, str] | None:
    """(`Took`, `1m 5s`) once settled; `Elapsed` or `Waiting` while it moves (with a clock)."""
    deployment = view.deployment
    settled = _settled_at(deployment)
    if settled is not None:
        return "Took", between(deployment.requested_at, settled)
    if view.now is None:
        return None
    label = "Waiting" if deployment.state is State.PENDING_APPROVAL else "Elapsed"
    return label, between(deployment.requested_at, view.now)
