"""What an alert's message says, in any medium: the one message of an incident, updated on
repeats, acknowledgement and recovery, and the short reply once the bot is healthy again."""

from __future__ import annotations

from chatops.domain.alerts import AlertState
from chatops.entrypoints.render import words
from chatops.entrypoints.render.actions import alert_actions
from chatops.entrypoints.render.deployments import SUBJECT_WIDTH
from chatops.entrypoints.render.document import (
    SECTION_LIMIT,
    Document,
    Fields,
    Header,
    Markup,
    Note,
    Part,
    Section,
)
from chatops.services.views import AlertView

__all__ = ["alert", "resolved_reply"]


def alert(view: AlertView, m: Markup) -> Document:
    """The incident: what is wrong, since when, what was done, who is on it."""
    alert = view.alert
    headline = words.alert_headline(alert)
    what = m.strong(m.text(alert.summary, 500))
    if alert.detail.strip():
        what += f"\n{m.text(alert.detail, SECTION_LIMIT - len(what) - 1)}"
    parts: list[Part] = [Header(headline), Section(what), Fields(_fields(view, m))]
    if alert.action_taken:
        parts.append(Section(f"🔁 {m.strong('Action taken:')} {m.text(alert.action_taken, 1000)}"))
    if alert.state is AlertState.ACKNOWLEDGED:
        at = f" · {m.moment(alert.acked_at)}" if alert.acked_at else ""
        parts.append(Note(f"👀 Acknowledged by {m.person(alert.acked_by)}{at}"))
    if view.page_url:
        parts.append(Note(f"🔎 {m.link(view.page_url, 'the deployment and its history')}"))
    text = m.text(f"{headline} — {words.cut(alert.summary, 300)}")
    return Document(text, tuple(parts), alert_actions(view))


def resolved_reply(view: AlertView, m: Markup) -> Document:
    """`✅ Resolved: mybot in prod is healthy again (after 9m 30s, seen 4 times)`."""
    alert = view.alert
    end = alert.resolved_at or alert.last_seen
    if alert.action_taken:
        text = f"✅ Resolved: {alert.bot} in {alert.env} — {alert.action_taken}"
    else:
        text = f"✅ Resolved: {alert.bot} in {alert.env} is healthy again"
    details = [f"after {words.between(alert.first_seen, end)}"]
    details.append("seen once" if alert.count == 1 else f"seen {alert.count} times")
    markup = f"{m.text(text)} ({', '.join(details)})"
    return Document(markup, (Section(markup), Note(f"resolved {m.moment(end)}")))


def _release(view: AlertView, m: Markup) -> str | None:
    release, alert = view.release, view.alert
    if release is not None:
        subject = f" {m.text(release.subject, SUBJECT_WIDTH)}" if release.subject else ""
        return f"{release.name} {m.code(release.commit[:8])}{subject}"
    return f"v{alert.version}" if alert.version else None


def _fields(view: AlertView, m: Markup) -> tuple[tuple[str, str], ...]:
    alert = view.alert
    pairs: list[tuple[str, str]] = []
    release = _release(view, m)
    if release:
        pairs.append(("Release", release))
    if view.deployed_by:
        pairs.append(("Deployed by", m.person(view.deployed_by)))
    pairs.append(("Source", m.text(words.ALERT_SOURCE.get(alert.source, alert.source))))
    pairs.append(("Seen", "once" if alert.count == 1 else f"{alert.count} times"))
    pairs.append(("First seen", m.moment(alert.first_seen)))
    pairs.append(("Last seen", m.moment(alert.last_seen)))
    if alert.resolved_at is not None:
        pairs.append(("Resolved", m.moment(alert.resolved_at)))
        pairs.append(("Lasted", words.between(alert.first_seen, alert.resolved_at)))
    return tuple(pairs)
