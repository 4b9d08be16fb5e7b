"""The answers to `/releases`, `/status` and `/logs`, in any medium."""

from __future__ import annotations

from collections.abc import Sequence

from chatops.domain.health import Health
from chatops.domain.policy import Lock, LockKind
from chatops.entrypoints.render import words
from chatops.entrypoints.render.document import (
    Document,
    Items,
    Markup,
    Output,
    Section,
    people,
)
from chatops.services.views import ReleaseRow, StatusRow

__all__ = ["logs", "releases", "status"]


def releases(bot: str, rows: Sequence[ReleaseRow], m: Markup) -> Document:
    """Newest first, one line per release: commit, who, when, where it is and was live."""
    if not rows:
        text = f"{bot} has no releases yet"
        first = m.code(f"/deploy {bot} <env>")
        return Document(m.text(text), (Section(f"{m.text(text)} — {first} builds the first one."),))
    latest = rows[0].release
    text = f"{len(rows)} release{'s' if len(rows) > 1 else ''} of {bot}, newest {latest.name}"
    parts = (
        Section(m.strong(f"Releases of {m.text(bot)}")),
        Items(tuple(_release(row, m) for row in rows)),
    )
    return Document(m.text(text), parts)


def status(rows: Sequence[StatusRow], m: Markup) -> Document:
    """What runs where, and anything that needs attention."""
    if not rows:
        text = "Nothing is deployed yet"
        first = m.code("/deploy <bot> <env>")
        return Document(m.text(text), (Section(f"{m.text(text)} — {first} starts one."),))
    unhealthy = sum(1 for r in rows if r.health is Health.UNHEALTHY)
    alerts = sum(len(r.open_alerts) for r in rows)
    text = f"Status of {len(rows)} deployment{'s' if len(rows) > 1 else ''}"
    if unhealthy:
        text += f", {unhealthy} unhealthy"
    if alerts:
        text += f", {alerts} open alert{'s' if alerts > 1 else ''}"
    parts = (Section(m.strong("Status")), Items(tuple(_status(row, m) for row in rows)))
    return Document(m.text(text), parts)


def logs(bot: str, env: str, text: str, m: Markup) -> Document:
    """The last lines of what runs (already redacted)."""
    title = f"Last lines of {bot} in {env}"
    if not text.strip():
        return Document(
            m.text(f"{title}: no output"), (Section(f"{m.strong(m.text(title))}: no output yet"),)
        )
    return Document(m.text(title), (Section(m.strong(m.text(title))), Output(text)))


def _release(row: ReleaseRow, m: Markup) -> str:
    release = row.release
    subject = f" {m.text(release.subject, 72)}" if release.subject else ""
    parts = [
        f"{m.strong(m.text(release.name))} {m.code(release.commit[:8])}{subject}",
        f"{m.person(release.created_by)} {m.moment(release.created_at)}",
    ]
    if row.live_in:
        parts.append("live in " + ", ".join(m.strong(m.text(env)) for env in row.live_in))
    if row.was_live_in:
        parts.append("was live in " + ", ".join(m.text(env) for env in row.was_live_in))
    if row.approved_by:
        parts.append(f"approved by {people(m, row.approved_by)}")
    for back in row.rolled_back:
        why = f": {m.text(back.reason, 200)}" if back.reason else ""
        parts.append(f"rolled back in {m.text(back.env)} by {m.person(back.by)}{why}")
    return " · ".join(parts)


def _lock(lock: Lock, m: Markup) -> str:
    if lock.kind is LockKind.ROLLBACK_HOLD:
        return f"🔒 automatic deploys held: {m.text(lock.reason, 300)}"
    until = f" until {m.moment(lock.expires_at)}" if lock.expires_at else ""
    return f"🔒 locked by {m.person(lock.held_by)}{until}: {m.text(lock.reason, 300)}"


def _status(row: StatusRow, m: Markup) -> str:
    deployment = row.deployment
    emoji = words.HEALTH_EMOJI.get(row.health, "⚪")
    head = f"{emoji} {m.strong(m.text(row.bot))} in {m.strong(m.text(row.env))}: "
    if deployment is None or not deployment.version:
        head += "nothing live"
    else:
        head += m.strong(f"v{deployment.version}")
        if row.commit:
            head += f" {m.code(row.commit[:8])}"
        head += f" · {row.health}"
        if deployment.live_at:
            head += f" · live since {m.moment(deployment.live_at)}"
    lines = [head]
    if row.in_progress is not None:
        busy = row.in_progress
        phrase = words.STATE_PHRASE.get(busy.state, busy.state)
        lines.append(f"    🔄 #{busy.id} {m.text(words.action(busy))}: {phrase}")
    lines.extend(
        f"    ⏳ #{p.id} {m.text(words.action(p))}: waiting for approval" for p in row.pending
    )
    if row.lock is not None:
        lines.append(f"    {_lock(row.lock, m)}")
    for alert in row.open_alerts:
        times = "" if alert.count == 1 else f" (seen {alert.count} times)"
        acked = f", acknowledged by {m.person(alert.acked_by)}" if alert.acked_by else ""
        emoji = words.ALERT_EMOJI.get(alert.state, "🚨")
        lines.append(f"    {emoji} {m.text(alert.summary, 200)}{times}{acked}")
    return "\n".join(lines)
