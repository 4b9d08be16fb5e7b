"""Pages of the web view, rendered with Jinja2 (autoescaped) from the board's views."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from chatops.domain.alerts import Alert
from chatops.domain.audit import AuditEvent
from chatops.domain.deployment import Deployment, Kind
from chatops.domain.durations import format_duration
from chatops.domain.names import validate_name
from chatops.domain.policy import LockKind
from chatops.domain.verification import Assessment
from chatops.errors import BadInput
from chatops.services.board import AUDIT_PAGE, AuditFilter, Changes, DeploymentPage, Timeline
from chatops.services.ports import MessageRef
from chatops.services.views import StatusRow

__all__ = [
    "audit",
    "audit_filter",
    "bot",
    "changes",
    "deployment",
    "overview",
    "problem",
    "signin_failed",
    "slack_link",
]

TEMPLATES = Path(__file__).parent / "templates"
ACTION = re.compile(r"[a-z_]{1,40}")
PERSON = re.compile(r"[A-Za-z0-9._@-]{1,100}")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with chatops; no stat() per page
    )
    env.filters["when"] = _when
    env.filters["ago"] = _ago
    env.filters["short"] = lambda sha: (sha or "")[:8]
    env.globals["lock_kind"] = LockKind
    env.globals["hold"] = LockKind.ROLLBACK_HOLD
    env.globals["verification"] = _verification
    return env


def _render(name: str, **context: Any) -> str:
    context.setdefault("now", datetime.now(UTC))
    return _environment().get_template(name).render(**context)


def _when(moment: datetime | None) -> str:
    # as `%Y-%m-%d %H:%M:%S`, ten times quicker than strftime (twice per overview row)
    return f"{moment.isoformat(' ', 'seconds')[:19]} UTC" if moment else "-"


def _verification(a: Assessment) -> Markup:
    """Where a verification stands, as a span: built here, not included, as the overview
    shows hundreds (Markup.format would take as long as the rest of a row)."""
    failures = "".join(
        f"; {escape(check)}: {int(n)} failed"
        for check, n in sorted(a.failures.items(), key=lambda item: item[0].lower())
        if n
    )
    reason = f": {escape(a.reason)}" if a.reason else ""
    state = escape(a.state)
    # every value above is escaped (or an int), as the templates would
    return Markup(  # noqa: S704
        f'<span class="verification v-{state}">verification {state} '
        f"({int(a.measured)} measurements{failures}){reason}</span>"
    )


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 1:
        return "just now"
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h ago"
    return f"{format_duration(timedelta(seconds=seconds))} ago"


def slack_link(message: MessageRef | None) -> str | None:
    """A link to the channel message that stands for a deployment."""
    if message is None or not message.ts:
        return None
    return f"https://slack.com/archives/{message.channel}/p{message.ts.replace('.', '')}"


def overview(rows: list[StatusRow], *, user: str) -> str:
    return _render("overview.html", rows=rows, user=user, title="What runs where")


def bot(timeline: Timeline, *, user: str) -> str:
    by_version: dict[int, list[Deployment]] = {}
    for d in timeline.deployments:
        if d.version is not None:
            by_version.setdefault(d.version, []).append(d)
    alerts_by_version: dict[int, list[Alert]] = {}
    for a in timeline.alerts:
        if a.version is not None:
            alerts_by_version.setdefault(a.version, []).append(a)
    released = {row.release.version for row in timeline.releases}
    unreleased = [d for d in timeline.deployments if d.version not in released]
    return _render(
        "bot.html",
        unreleased=unreleased,
        t=timeline,
        user=user,
        title=timeline.bot,
        by_version=by_version,
        alerts_by_version=alerts_by_version,
        rollback_kinds=(Kind.ROLLBACK, Kind.AUTO_ROLLBACK),
    )


def changes(found: Changes, *, upcoming: bool = False) -> str:
    return _render("changes.html", c=found, upcoming=upcoming)


def deployment(page: DeploymentPage, *, user: str, viewer: bool, build_log: str | None) -> str:
    d = page.view.deployment
    return _render(
        "deployment.html",
        p=page,
        v=page.view,
        d=d,
        user=user,
        viewer=viewer,
        build_log=build_log,
        streaming=str(d.state) in ("queued", "building"),
        slack=slack_link(page.message),
        title=f"#{d.id} {d.bot} {d.env}",
    )


def audit(events: list[AuditEvent], wanted: AuditFilter, *, user: str) -> str:
    more = len(events) == wanted.limit and events and events[-1].id is not None
    query = {
        "bot": wanted.bot,
        "env": wanted.env,
        "person": wanted.actor,
        "action": wanted.action,
        "since": wanted.since.isoformat() if wanted.since else None,
        "until": wanted.until.isoformat() if wanted.until else None,
    }
    older = query_string({**query, "before": events[-1].id}) if more else None
    return _render(
        "audit.html", events=events, f=wanted, q=query, older=older, user=user, title="Audit log"
    )


def query_string(params: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def problem(status: int, message: str) -> str:
    return _render("problem.html", status=status, message=message, title=str(status), user=None)


def signin_failed(message: str) -> str:
    return _render("problem.html", status=401, message=message, title="Sign-in", user=None)


def audit_filter(params: Mapping[str, str]) -> AuditFilter:
    """The audit filters of a query string.

    Raises:
        BadInput: a filter is malformed (the message names it and what is allowed).
    """

    def text(key: str) -> str | None:
        value = params.get(key, "").strip()
        return value or None

    bot_name, env, person, action = text("bot"), text("env"), text("person"), text("action")
    if bot_name:
        validate_name("bot", bot_name)
    if env:
        validate_name("environment", env)
    if person and not PERSON.fullmatch(person):
        raise BadInput(f"person: {person[:40]!r} is not a user id (letters, digits, ._@-)")
    if action and not ACTION.fullmatch(action):
        raise BadInput(f"action: {action[:40]!r} is not an action name (e.g. deploy, rollback)")
    before = text("before")
    if before is not None and not before.isdigit():
        raise BadInput("before: an audit event id (a number)")
    limit = text("limit") or str(AUDIT_PAGE)
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise BadInput("limit: a number from 1 to 500")
    return AuditFilter(
        bot=bot_name,
        env=env,
        actor=person,
        action=action,
        since=_moment("since", text("since")),
        until=_moment("until", text("until")),
        before_id=int(before) if before else None,
        limit=int(limit),
    )


def _moment(key: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(
            f"{key}: {value[:40]!r} is not a date or time (ISO 8601, e.g. 2026-12-01 or "
            "2026-12-01T09:30)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
