"""Block Kit rendering of every message chatops posts in Slack: pure functions of service views.

Each function returns a `Message` — the notification fallback `text` and the
`blocks` as dicts, built with slack_sdk's typed models so Slack's limits are
checked as they are rendered. Nothing here reads a clock, a client or the
environment: time comes from the views, so the same view renders the same
message, which the snapshot tests pin down.

Button contract (DESIGN §6): `promote`, `approve`, `reject` and `rollback` carry
a deployment id; `ack_alert` and `logs` (an alert's log lines, shown only to
whoever pressed it, when they are among the environment's viewers) carry an alert id.

Text that people or programs wrote (commit subjects, reasons, refs, logs) is
escaped for mrkdwn by the one `chatops.domain.mrkdwn.escape` (code spans by its
`code`) and cut to fit before it goes into a block; `text_of` and `buttons`
turn a message back into what a terminal shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from chatops.domain.alerts import Alert, AlertState
from chatops.domain.commands import USAGE
from chatops.domain.deployment import ENDED_STATES, Deployment, Kind, State
from chatops.domain.health import Health
from chatops.domain.mrkdwn import code, escape, unescape
from chatops.domain.policy import Lock, LockKind, format_duration
from chatops.services.views import AlertView, DeploymentView, ReleaseRow, StatusRow

__all__ = [
    "MAX_BLOCKS",
    "Message",
    "alert_message",
    "alert_resolved_reply",
    "buttons",
    "deployment_message",
    "help_message",
    "logs_message",
    "plain_message",
    "refusal_message",
    "releases_message",
    "soaked_message",
    "status_message",
    "text_of",
    "usage_message",
]

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks)
MAX_BLOCKS = 50
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300
FALLBACK_LIMIT = 1000

LOG_LINES = 10
LOG_LINE_WIDTH = 300
MAX_CHANGES = 10
SUBJECT_WIDTH = 100

_STATE_EMOJI: dict[State, str] = {
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
_STATE_PHRASE: dict[State, str] = {
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
_KIND_LABEL: dict[Kind, str] = {
    Kind.DEPLOY: "deploy",
    Kind.PROMOTE: "promote",
    Kind.ROLLBACK: "rollback",
    Kind.AUTO_ROLLBACK: "auto-rollback",
}
_ALERT_EMOJI: dict[AlertState, str] = {
    AlertState.FIRING: "🚨",
    AlertState.ACKNOWLEDGED: "👀",
    AlertState.RESOLVED: "✅",
}
_ALERT_SOURCE: dict[str, str] = {
    "chatops": "chatops health checks",
    "alertmanager": "Alertmanager",
}
_HEALTH_EMOJI: dict[Health, str] = {
    Health.HEALTHY: "🟢",
    Health.UNHEALTHY: "🔴",
    Health.STARTING: "🟡",
    Health.UNKNOWN: "⚪",
}
_COMMAND_HELP: tuple[tuple[str, str], ...] = (
    ("/deploy", "build (or reuse) and deploy; ref defaults to the bot's branch head"),
    ("/promote", "promote what is live in the source environment (default: the next one)"),
    ("/rollback", "go back to the previous healthy release, or vN"),
    ("/releases", "recent releases with commit, who, when, where live"),
    ("/status", "what runs where, health, open alerts, locks, pending approvals"),
    ("/logs", "the last lines of the running container (only you see them, secrets masked)"),
    ("/lock", "hold an environment: no deployment starts until `/unlock`"),
    ("/unlock", "release a hold"),
    ("/approve", "approve a pending deployment, as its Approve button does"),
    ("/reject", "reject a pending deployment (with a reason, if you like), as Reject does"),
    ("/cancel", "stop the deployment that runs there; the previous release stays"),
    ("/chatops", "this help"),
)
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: `text` for notifications and clients without blocks, `blocks` to show."""

    text: str
    blocks: list[dict[str, Any]]


# ── text helpers ─────────────────────────────────────────────────────────────


# every piece of text that is not chatops' own markup goes through the one escape
_esc = escape


def _cut(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def _fit(raw: str, limit: int, *, keep_end: bool = False) -> str:
    """`raw` escaped for mrkdwn and cut so that the escaped text fits in `limit`.

    Cuts between characters of `raw`, never inside an escape; `keep_end` keeps the end
    (for logs) instead of the start.
    """
    escaped = _esc(raw)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    size = 0
    for char in reversed(raw) if keep_end else raw:
        piece = _esc(char)
        if size + len(piece) > limit - 1:
            break
        pieces.append(piece)
        size += len(piece)
    if keep_end:
        return "…" + "".join(reversed(pieces))
    return "".join(pieces) + "…"


def _clip(markup: str, limit: int) -> str:
    """Last guard for composed mrkdwn: cut without leaving half a `<…>` or `&…;` behind."""
    if len(markup) <= limit:
        return markup
    head = markup[: limit - 1]
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]
    if head.rfind("&") > head.rfind(";"):
        head = head[: head.rfind("&")]
    return head.rstrip() + "…"


def _who(user: str | None) -> str:
    """A Slack mention for a Slack user id; anyone else (a CLI user, chatops itself) by name."""
    if not user:
        return "someone"
    if _USER_ID.fullmatch(user):
        return f"<@{user}>"
    return _fit(user, 80)


def _people(users: Iterable[str]) -> str:
    return ", ".join(_who(u) for u in users)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    """A date Slack shows in the reader's time zone, with UTC as the fallback text."""
    utc = _utc(moment)
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{utc:%Y-%m-%d %H:%M} UTC>"


def _between(start: datetime, end: datetime) -> str:
    return format_duration(_utc(end) - _utc(start))


def _log_lines(raw: str) -> list[str]:
    """Lines of output, each cut to a readable width, with no fence that could end a code block."""
    return [
        _cut(line, LOG_LINE_WIDTH).replace("```", "`\u200b`\u200b`")
        for line in raw.rstrip().splitlines()
    ]


def _code(raw: str, *, limit: int) -> str:
    """A code block of the last `LOG_LINES` lines of `raw` that fits in `limit` characters."""
    body = "\n".join(_log_lines(raw)[-LOG_LINES:])
    return f"```\n{_fit(body, limit - 8, keep_end=True)}\n```"


def _code_chunks(raw: str, *, room: int) -> tuple[list[str], int]:
    """The end of `raw` as at most `room` code blocks that each fill one section.

    Returns the code blocks, oldest first, and how many earlier lines did not fit.
    """
    lines = _log_lines(raw)
    chunks: list[list[str]] = [[]]  # newest first, each newest line first
    size = 0
    for line in reversed(lines):
        escaped = _esc(line)
        if chunks[-1] and size + len(escaped) + 1 > SECTION_LIMIT - 8:
            if len(chunks) == room:
                break
            chunks.append([])
            size = 0
        chunks[-1].append(escaped)
        size += len(escaped) + 1
    shown = sum(len(chunk) for chunk in chunks)
    blocks = ["```\n" + "\n".join(reversed(c)) + "\n```" for c in reversed(chunks) if c]
    return blocks, len(lines) - shown


# ── block helpers ────────────────────────────────────────────────────────────


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=_cut(text, HEADER_LIMIT), emoji=True))


def _section(markup: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=_clip(markup, SECTION_LIMIT)))


def _fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    """A two-column section of `*label*` over value, at most ten."""
    return SectionBlock(
        fields=[
            MarkdownTextObject(text=_clip(f"*{label}*\n{value}", FIELD_LIMIT))
            for label, value in pairs[:10]
        ]
    )


def _context(*markups: str) -> ContextBlock:
    return ContextBlock(
        elements=[MarkdownTextObject(text=_clip(m, CONTEXT_LIMIT)) for m in markups[:10]]
    )


def _button(
    label: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=_cut(label, BUTTON_TEXT_LIMIT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
        confirm=confirm,
    )


def _confirm(title: str, text: str, *, confirm: str) -> ConfirmObject:
    return ConfirmObject(
        title=PlainTextObject(text=_cut(title, CONFIRM_TITLE_LIMIT)),
        text=MarkdownTextObject(text=_clip(text, CONFIRM_TEXT_LIMIT)),
        confirm=PlainTextObject(text=confirm),
        deny=PlainTextObject(text="Cancel"),
        style="danger",
    )


def _packed(items: Sequence[str], *, room: int) -> list[Block]:
    """Items (mrkdwn, one or more lines each) packed into as few sections as fit.

    At most `room` blocks; what does not fit is counted in a last context line.
    """
    sections: list[str] = []
    current = ""
    for item in (_clip(i, SECTION_LIMIT) for i in items):
        if current and len(current) + 1 + len(item) > SECTION_LIMIT:
            sections.append(current)
            current = item
        else:
            current = f"{current}\n{item}" if current else item
    if current:
        sections.append(current)
    if len(sections) <= room:
        return [_section(s) for s in sections]
    shown = sections[: room - 1]
    left = len(sections) - len(shown)
    blocks: list[Block] = [_section(s) for s in shown]
    blocks.append(_context(f"… and {left} more screenful{'s' if left > 1 else ''} not shown"))
    return blocks


def _message(text: str, blocks: Sequence[Block]) -> Message:
    kept = list(blocks)
    if len(kept) > MAX_BLOCKS:
        kept = [*kept[: MAX_BLOCKS - 1], _context("… shortened to fit in one Slack message")]
    return Message(text=_clip(text, FALLBACK_LIMIT), blocks=[b.to_dict() for b in kept])


# ── deployments ──────────────────────────────────────────────────────────────


def _target(deployment: Deployment) -> str:
    """What is being deployed: the version, else the ref, else the branch head (plain text)."""
    if deployment.version:
        return f"v{deployment.version}"
    return deployment.ref or "branch head"


def _action(deployment: Deployment) -> str:
    """`Deploy mybot v3 to staging`, `Roll back mybot in prod to v1`, … (plain text)."""
    bot, env, what = deployment.bot, deployment.env, _target(deployment)
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


def _headline(deployment: Deployment) -> str:
    emoji = _STATE_EMOJI.get(deployment.state, "•")
    phrase = _STATE_PHRASE.get(deployment.state, str(deployment.state))
    return f"{emoji} {_action(deployment)}: {phrase}"


def _settled_at(deployment: Deployment) -> datetime | None:
    """When the deployment stopped moving: went live, or ended."""
    if deployment.state is State.LIVE:
        return deployment.live_at or deployment.updated_at
    if deployment.state in ENDED_STATES:
        # a release that went live and was later superseded took until it went live
        return deployment.live_at or deployment.finished_at or deployment.updated_at
    return None


def _elapsed(view: DeploymentView) -> tuple[str, str] | None:
    deployment = view.deployment
    settled = _settled_at(deployment)
    if settled is not None:
        return "Took", _between(deployment.requested_at, settled)
    if view.now is None:
        return None
    label = "Waiting" if deployment.state is State.PENDING_APPROVAL else "Elapsed"
    return label, _between(deployment.requested_at, view.now)


def _commit_line(view: DeploymentView) -> str | None:
    release, deployment = view.release, view.deployment
    sha = release.commit if release else deployment.commit
    if not sha:
        return None
    subject = release.subject if release else ""
    line = code(sha[:8])
    return f"{line} {_fit(subject, SUBJECT_WIDTH)}" if subject else line


def _approvals(view: DeploymentView) -> str | None:
    tally = view.tally
    if tally is None:
        return None
    count = f"{len(tally.approved_by)} of {tally.needed}"
    return f"{count}: {_people(tally.approved_by)}" if tally.approved_by else count


def _kind(deployment: Deployment) -> str:
    label = _KIND_LABEL.get(deployment.kind, str(deployment.kind))
    return f"{label} · #{deployment.id}" if deployment.id is not None else label


def _version_field(deployment: Deployment) -> str:
    if deployment.version:
        return f"v{deployment.version}"
    if deployment.ref:
        return f"{code(_cut(deployment.ref, 200))} (not built yet)"
    return "branch head (not built yet)"


def _summary(view: DeploymentView) -> SectionBlock:
    deployment = view.deployment
    pairs: list[tuple[str, str]] = [
        ("Bot", _esc(deployment.bot)),
        ("Environment", _esc(deployment.env)),
        ("Version", _version_field(deployment)),
        ("Kind", _kind(deployment)),
    ]
    commit = _commit_line(view)
    if commit:
        pairs.append(("Commit", commit))
    pairs.append(("Requested by", _who(deployment.requested_by)))
    pairs.append(("Requested", _when(deployment.requested_at)))
    elapsed = _elapsed(view)
    if elapsed:
        pairs.append(elapsed)
    if view.previous is not None:
        rolling_back = deployment.kind in (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)
        pairs.append(("Rolled back from" if rolling_back else "Previous", view.previous.name))
    approvals = _approvals(view)
    if approvals:
        pairs.append(("Approvals", approvals))
    return _fields(pairs)


def _outcome(view: DeploymentView) -> list[Block]:
    """Why it failed, with the end of the build output; why chatops rolled back by itself."""
    deployment = view.deployment
    if deployment.kind is Kind.AUTO_ROLLBACK and deployment.reason:
        return [_section(f"*Why:* {_fit(deployment.reason, SECTION_LIMIT - 40)}")]
    if deployment.state is not State.FAILED:
        return []
    blocks: list[Block] = []
    why = deployment.reason or "no reason was recorded"
    blocks.append(_section(f"*Why it failed:* {_fit(why, SECTION_LIMIT - 40)}"))
    if deployment.log_tail.strip():
        title = "*Last lines of the output:*\n"
        blocks.append(
            _section(title + _code(deployment.log_tail, limit=SECTION_LIMIT - len(title)))
        )
    return blocks


def _notes(view: DeploymentView) -> list[Block]:
    deployment = view.deployment
    notes: list[Block] = []
    if deployment.force_reason:
        notes.append(
            _context(
                f"⚠️ Forced by {_who(deployment.requested_by)} past a lock or freeze: "
                f"{_fit(deployment.force_reason, 500)}"
            )
        )
    if view.hold_note:
        notes.append(_context(f"🔒 {_fit(view.hold_note, 500)}"))
    if deployment.in_progress and deployment.cancel_requested_by:
        notes.append(
            _context(
                f"✋ {_who(deployment.cancel_requested_by)} cancelled it: it stops at its next "
                "step, and the previous release runs on"
            )
        )
    return notes


def _changes(view: DeploymentView) -> list[Block]:
    if not view.changes:
        return []
    since = f" since {view.previous.name}" if view.previous else ""
    title = f"*What changes{since}*"
    if view.compare_url:
        title += f" · <{_esc(view.compare_url).replace('|', '%7C')}|compare>"
    lines = [title]
    for commit in view.changes[:MAX_CHANGES]:
        author = f" — {_fit(commit.author, 40)}" if commit.author else ""
        lines.append(f"• {code(commit.short)} {_fit(commit.subject, SUBJECT_WIDTH)}{author}")
    more = view.more_changes + max(0, len(view.changes) - MAX_CHANGES)
    if more:
        lines.append(f"… and {more} more")
    return [_section("\n".join(lines))]


def _decision(view: DeploymentView) -> list[Block]:
    """Who decided a request that needed a decision, and when (instead of its buttons)."""
    state = view.deployment.state
    text: str | None
    if state is State.PENDING_APPROVAL:
        text = _waiting(view)
    elif state in (State.REJECTED, State.EXPIRED, State.SUPERSEDED):
        text = _ended(view)
    else:
        text = _approved(view)
    return [_context(text)] if text else []


def _ended(view: DeploymentView) -> str:
    deployment = view.deployment
    ended = deployment.finished_at or deployment.updated_at
    if deployment.state is State.REJECTED:
        by = view.decided_by or (view.tally.rejected_by if view.tally else None)
        text = f"🚫 Rejected by {_who(by)} · {_when(ended)}"
        # the reason given with the reject, without the "rejected by" it is recorded with
        why = (deployment.reason or "").removeprefix(f"rejected by {by}").removeprefix(": ")
        if why:
            text += f": {_fit(why, 1000)}"
        return text
    if deployment.state is State.EXPIRED:
        why = deployment.reason or "no decision within the approval time"
        return f"⌛ Expired after {_between(deployment.requested_at, ended)}: {_fit(why, 1000)}"
    why = deployment.reason or f"a newer release went live in {deployment.env}"
    return f"⏭️ Superseded · {_when(ended)}: {_fit(why, 1000)}"


def _approved(view: DeploymentView) -> str | None:
    tally = view.tally
    if tally is not None and tally.complete and tally.approved_by:
        return f"👍 Approved by {_people(tally.approved_by)}"
    if view.decided_by:
        return f"👍 Approved by {_who(view.decided_by)}"
    return None


def _waiting(view: DeploymentView) -> str:
    tally = view.tally
    missing = tally.missing if tally else 1
    approvals = "approval" if missing == 1 else "approvals"
    return (
        f"Waiting for {missing} more {approvals} from {view.deployment.env}'s approvers: "
        "press *Approve* or react with ✅. The requester's own approval does not count."
    )


def _rollback_confirm(bot: str, env: str, *, running: int | None, to: str | None) -> ConfirmObject:
    """The dialog before a rollback, naming what goes and, when known, what comes back."""
    current = f" from v{running}" if running else ""
    return _confirm(
        f"Roll back {bot} in {env}?",
        f"*{_esc(bot)}* in *{_esc(env)}* goes back{current} to "
        f"{_esc(to) if to else 'the previous healthy release'}, without rebuilding.",
        confirm="Roll back",
    )


def _live_buttons(view: DeploymentView, value: str) -> list[ButtonElement]:
    deployment = view.deployment
    elements: list[ButtonElement] = []
    if view.promote_to:
        label = f"Promote to {view.promote_to}"
        elements.append(_button(label, "promote", value, style="primary"))
    # the previous release is where a rollback goes only when this deployment moved forward
    forward = deployment.kind in (Kind.DEPLOY, Kind.PROMOTE)
    to = view.previous.name if forward and view.previous else None
    confirm = _rollback_confirm(deployment.bot, deployment.env, running=deployment.version, to=to)
    elements.append(_button("Roll back", "rollback", value, style="danger", confirm=confirm))
    return elements


def _vote_buttons(deployment: Deployment, value: str) -> list[ButtonElement]:
    confirm = _confirm(
        "Reject this request?",
        f"{_esc(_action(deployment))} (#{value}) ends here; "
        f"{_who(deployment.requested_by)} would have to ask again.",
        confirm="Reject",
    )
    return [
        _button("Approve", "approve", value, style="primary"),
        _button("Reject", "reject", value, style="danger", confirm=confirm),
    ]


def _deployment_actions(view: DeploymentView) -> list[Block]:
    """Promote and Roll back on a live deployment, Approve and Reject on a pending one."""
    deployment = view.deployment
    if deployment.id is None:
        return []
    value = str(deployment.id)
    if deployment.state is State.LIVE:
        return [ActionsBlock(elements=_live_buttons(view, value))]
    if deployment.state is State.PENDING_APPROVAL:
        return [ActionsBlock(elements=_vote_buttons(deployment, value))]
    return []


def deployment_message(view: DeploymentView) -> Message:
    """The one channel message of a deployment, re-rendered on every state change."""
    deployment = view.deployment
    headline = _headline(deployment)
    blocks: list[Block] = [
        _header(headline),
        _summary(view),
        *_outcome(view),
        *_notes(view),
        *_changes(view),
        *_decision(view),
        *_deployment_actions(view),
    ]
    return _message(_deployment_text(view, headline), blocks)


def _deployment_text(view: DeploymentView, headline: str) -> str:
    """The notification: the headline, and who decided or why it ended."""
    deployment = view.deployment
    text = _esc(headline)
    if deployment.state is State.REJECTED and view.decided_by:
        return f"{text} by {_who(view.decided_by)}"
    if deployment.state in ENDED_STATES and deployment.reason:
        return f"{text} — {_fit(deployment.reason, 300)}"
    return text


def soaked_message(view: DeploymentView) -> Message:
    """`mybot v3 has soaked in staging — ready to promote to prod`, with a Promote button."""
    deployment = view.deployment
    what = f"{deployment.bot} {_target(deployment)}"
    where = f" to {view.promote_to}" if view.promote_to else ""
    text = f"{what} has soaked in {deployment.env} — ready to promote{where}"
    commit = _commit_line(view)
    details = [commit] if commit else []
    since = deployment.healthy_since or deployment.live_at
    if since is not None:
        healthy = f"healthy since {_when(since)}"
        if view.now is not None:
            healthy += f" ({_between(since, view.now)})"
        details.append(healthy)
    blocks: list[Block] = [_section(f"⏱️ {_esc(text)}")]
    if details:
        blocks.append(_context(" · ".join(details)))
    if deployment.id is not None:
        label = f"Promote to {view.promote_to}" if view.promote_to else "Promote"
        blocks.append(
            ActionsBlock(elements=[_button(label, "promote", str(deployment.id), style="primary")])
        )
    return _message(_esc(text), blocks)


# ── alerts ───────────────────────────────────────────────────────────────────


def _alert_headline(alert: Alert) -> str:
    """`🚨 Alert: mybot in prod`, `👀 … acknowledged`, `✅ Resolved: …` (plain text)."""
    where = f"{alert.bot} in {alert.env}"
    match alert.state:
        case AlertState.ACKNOWLEDGED:
            return f"👀 Alert acknowledged: {where}"
        case AlertState.RESOLVED:
            return f"✅ Resolved: {where}"
    return f"🚨 Alert: {where}"


def _alert_release(view: AlertView) -> str | None:
    release, alert = view.release, view.alert
    if release is not None:
        subject = f" {_fit(release.subject, SUBJECT_WIDTH)}" if release.subject else ""
        return f"{release.name} {code(release.commit[:8])}{subject}"
    return f"v{alert.version}" if alert.version else None


def _alert_fields(view: AlertView) -> SectionBlock:
    alert = view.alert
    pairs: list[tuple[str, str]] = []
    release = _alert_release(view)
    if release:
        pairs.append(("Release", release))
    if view.deployed_by:
        pairs.append(("Deployed by", _who(view.deployed_by)))
    pairs.append(("Source", _esc(_ALERT_SOURCE.get(alert.source, alert.source))))
    pairs.append(("Seen", "once" if alert.count == 1 else f"{alert.count} times"))
    pairs.append(("First seen", _when(alert.first_seen)))
    pairs.append(("Last seen", _when(alert.last_seen)))
    if alert.resolved_at is not None:
        pairs.append(("Resolved", _when(alert.resolved_at)))
        pairs.append(("Lasted", _between(alert.first_seen, alert.resolved_at)))
    return _fields(pairs)


def _alert_actions(view: AlertView) -> list[Block]:
    alert = view.alert
    elements: list[ButtonElement] = []
    if alert.deployment_id is not None and alert.state is not AlertState.RESOLVED:
        to = f"v{view.rollback_to}" if view.rollback_to else None
        running = view.release.version if view.release else alert.version
        if alert.action_taken:  # e.g. rolled back already: the alert's release may not run now
            running = None
        confirm = _rollback_confirm(alert.bot, alert.env, running=running, to=to)
        label = f"Roll back to {to}" if to else "Roll back"
        elements.append(
            _button(label, "rollback", str(alert.deployment_id), style="danger", confirm=confirm)
        )
    if alert.id is not None and alert.state is AlertState.FIRING:
        elements.append(_button("Acknowledge", "ack_alert", str(alert.id)))
    if alert.id is not None:  # logs are shown to the environment's viewers alone, on request
        elements.append(_button("Logs", "logs", str(alert.id)))
    return [ActionsBlock(elements=elements)] if elements else []


def alert_message(view: AlertView) -> Message:
    """The one channel message of an incident, updated on repeats, acknowledgement and recovery."""
    alert = view.alert
    headline = _alert_headline(alert)
    what = f"*{_fit(alert.summary, 500)}*"
    if alert.detail.strip():
        what += f"\n{_fit(alert.detail, SECTION_LIMIT - len(what) - 1)}"
    blocks: list[Block] = [_header(headline), _section(what), _alert_fields(view)]
    if alert.action_taken:
        blocks.append(_section(f"🔁 *Action taken:* {_fit(alert.action_taken, 1000)}"))
    if alert.state is AlertState.ACKNOWLEDGED:
        at = f" · {_when(alert.acked_at)}" if alert.acked_at else ""
        blocks.append(_context(f"👀 Acknowledged by {_who(alert.acked_by)}{at}"))
    blocks.extend(_alert_actions(view))
    return _message(_esc(f"{headline} — {_cut(alert.summary, 300)}"), blocks)


def alert_resolved_reply(view: AlertView) -> Message:
    """The short reply in the alert's thread once the bot is healthy again."""
    alert = view.alert
    end = alert.resolved_at or alert.last_seen
    if alert.action_taken:
        text = f"✅ Resolved: {alert.bot} in {alert.env} — {alert.action_taken}"
    else:
        text = f"✅ Resolved: {alert.bot} in {alert.env} is healthy again"
    details = [f"after {_between(alert.first_seen, end)}"]
    details.append("seen once" if alert.count == 1 else f"seen {alert.count} times")
    markup = f"{_esc(text)} ({', '.join(details)})"
    return _message(markup, [_section(markup), _context(f"resolved {_when(end)}")])


# ── listings ─────────────────────────────────────────────────────────────────


def _release_line(row: ReleaseRow) -> str:
    release = row.release
    subject = f" {_fit(release.subject, 72)}" if release.subject else ""
    parts = [
        f"*{release.name}* {code(release.commit[:8])}{subject}",
        f"{_who(release.created_by)} {_when(release.created_at)}",
    ]
    if row.live_in:
        parts.append("live in " + ", ".join(f"*{_esc(env)}*" for env in row.live_in))
    if row.was_live_in:
        parts.append("was live in " + ", ".join(_esc(env) for env in row.was_live_in))
    if row.approved_by:
        parts.append(f"approved by {_people(row.approved_by)}")
    return " · ".join(parts)


def releases_message(bot: str, rows: Sequence[ReleaseRow]) -> Message:
    """The reply to `/releases`: newest first, one line per release."""
    if not rows:
        text = f"{bot} has no releases yet"
        return _message(
            _esc(text),
            [_section(_esc(f"{text} — `/deploy {bot} <env>` builds the first one."))],
        )
    title = f"*Releases of {_esc(bot)}*"
    blocks = [_section(title), *_packed([_release_line(r) for r in rows], room=MAX_BLOCKS - 1)]
    latest = rows[0].release
    text = f"{len(rows)} release{'s' if len(rows) > 1 else ''} of {bot}, newest {latest.name}"
    return _message(_esc(text), blocks)


def _lock_line(lock: Lock) -> str:
    if lock.kind is LockKind.ROLLBACK_HOLD:
        return f"🔒 automatic deploys held: {_fit(lock.reason, 300)}"
    until = f" until {_when(lock.expires_at)}" if lock.expires_at else ""
    return f"🔒 locked by {_who(lock.held_by)}{until}: {_fit(lock.reason, 300)}"


def _status_item(row: StatusRow) -> str:
    deployment = row.deployment
    head = f"{_HEALTH_EMOJI.get(row.health, '⚪')} *{_esc(row.bot)}* in *{_esc(row.env)}*: "
    if deployment is None or not deployment.version:
        head += "nothing live"
    else:
        head += f"*v{deployment.version}*"
        if row.commit:
            head += f" {code(row.commit[:8])}"
        head += f" · {row.health}"
        if deployment.live_at:
            head += f" · live since {_when(deployment.live_at)}"
    lines = [head]
    if row.in_progress is not None:
        busy = row.in_progress
        lines.append(
            f"    🔄 #{busy.id} {_esc(_action(busy))}: {_STATE_PHRASE.get(busy.state, busy.state)}"
        )
    lines.extend(f"    ⏳ #{p.id} {_esc(_action(p))}: waiting for approval" for p in row.pending)
    if row.lock is not None:
        lines.append(f"    {_lock_line(row.lock)}")
    for alert in row.open_alerts:
        times = "" if alert.count == 1 else f" (seen {alert.count} times)"
        acked = f", acknowledged by {_who(alert.acked_by)}" if alert.acked_by else ""
        emoji = _ALERT_EMOJI.get(alert.state, "🚨")
        lines.append(f"    {emoji} {_fit(alert.summary, 200)}{times}{acked}")
    return "\n".join(lines)


def status_message(rows: Sequence[StatusRow]) -> Message:
    """The reply to `/status`: what runs where, and anything that needs attention."""
    if not rows:
        text = "Nothing is deployed yet"
        return _message(text, [_section(_esc(f"{text} — `/deploy <bot> <env>` starts one."))])
    unhealthy = sum(1 for r in rows if r.health is Health.UNHEALTHY)
    alerts = sum(len(r.open_alerts) for r in rows)
    text = f"Status of {len(rows)} deployment{'s' if len(rows) > 1 else ''}"
    if unhealthy:
        text += f", {unhealthy} unhealthy"
    if alerts:
        text += f", {alerts} open alert{'s' if alerts > 1 else ''}"
    blocks = [_section("*Status*"), *_packed([_status_item(r) for r in rows], room=MAX_BLOCKS - 1)]
    return _message(text, blocks)


# ── help, usage and refusals ─────────────────────────────────────────────────


def help_message(topic: str | None = None) -> Message:
    """The reply to `/chatops help` (every command with its syntax), or `/<topic> help`."""
    if topic is not None:
        command = "/" + topic.strip().lstrip("/").lower()
        meaning = dict(_COMMAND_HELP).get(command)
        if meaning is not None:
            usage = USAGE.get(command, command)
            return _message(
                _esc(f"{usage} — {meaning}"),
                [
                    _section(f"`{_esc(usage)}`\n{_esc(meaning)}"),
                    _context("`/chatops help` lists every command."),
                ],
            )
    lines = [
        f"`{_esc(USAGE.get(command, command))}` — {_esc(meaning)}"
        for command, meaning in _COMMAND_HELP
    ]
    buttons_help = (
        "*Buttons:* *Promote* on a release that went live in staging · *Approve* / *Reject* "
        "on a pending promotion (a ✅ reaction approves too) · *Roll back* on a live "
        "deployment and on every alert · *Acknowledge* on an alert"
    )
    blocks: list[Block] = [
        _header("chatops commands"),
        _section("\n".join(lines)),
        _section(buttons_help),
        _context(
            "Production takes only promotions of what ran healthy in staging. Admins can add "
            "`--force &lt;reason&gt;` to `/deploy`, `/promote` or `/rollback` to go past a lock "
            "or freeze."
        ),
    ]
    text = "chatops commands: " + ", ".join(command for command, _ in _COMMAND_HELP)
    return _message(text, blocks)


def logs_message(bot: str, env: str, text: str) -> Message:
    """The reply to `/logs`: the last lines of what runs (already redacted), as code."""
    title = f"Last lines of {bot} in {env}"
    if not text.strip():
        return _message(_esc(f"{title}: no output"), [_section(f"*{_esc(title)}*: no output yet")])
    chunks, hidden = _code_chunks(text, room=MAX_BLOCKS - 2)
    blocks: list[Block] = [_section(f"*{_esc(title)}*")]
    if hidden:
        earlier = "line" if hidden == 1 else "lines"
        blocks.append(_context(f"… {hidden} earlier {earlier} do not fit in one message"))
    blocks.extend(_section(chunk) for chunk in chunks)
    return _message(_esc(title), blocks)


def plain_message(text: str) -> Message:
    """A one-line reply (`:lock: mybot in prod is locked …`); emoji codes work, markup is text."""
    return _message(_fit(text, FALLBACK_LIMIT), [_section(_fit(text, SECTION_LIMIT))])


def usage_message(problem: str, usage: str) -> Message:
    """An ephemeral reply to a mistyped command: what was wrong, and how to write it."""
    blocks: list[Block] = [
        _section(f"⚠️ {_fit(problem, 1000)}"),
        _section(f"*Usage:* {code(_cut(usage, 500))}"),
        _context("`/chatops help` lists every command."),
    ]
    return _message(_esc(f"{problem} — usage: {usage}"), blocks)


def refusal_message(message: str, hint: str | None = None) -> Message:
    """An ephemeral refusal: why not, and what to do instead."""
    instead = hint or "`/chatops help` lists what you can do"
    blocks: list[Block] = [
        _section(f"🚫 {_fit(message, 1500)}"),
        _section(f"👉 {_fit(instead, 1000)}"),
    ]
    return _message(_esc(f"{message} — {instead}"), blocks)


# ── back to text, for the console ────────────────────────────────────────────

_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_LABELLED_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BARE_LINK = re.compile(r"<([^<>|]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def _inline(markup: str) -> str:
    text = _DATE.sub(r"\1", markup)
    text = _MENTION.sub(r"@\1", text)
    text = _LABELLED_LINK.sub(r"\2 (\1)", text)
    text = _BARE_LINK.sub(r"\1", text)
    return unescape(_BOLD.sub(r"\1", text))


def _plain(markup: str) -> str:
    """mrkdwn as a terminal shows it: dates in UTC, @mentions, links spelled out, code indented."""
    parts = markup.split("```")
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:  # inside a code block
            block = unescape(part.strip("\n")).replace("\u200b", "")
            out.append("\n".join(f"    {line}" for line in block.splitlines()))
        else:
            out.append(_inline(part))
    return "".join(out)


def _text_object(obj: Any) -> str:
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return _plain(text) if obj.get("type") == "mrkdwn" else text


def _field(obj: Any) -> str:
    label, _, value = _text_object(obj).partition("\n")
    return f"{label}: {value}" if value else label


def _block_text(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [_text_object(block.get("text"))]
    if kind == "section":
        lines = [_text_object(block["text"])] if "text" in block else []
        lines.extend(_field(f) for f in block.get("fields", ()))
        return lines
    if kind == "context":
        return [" · ".join(_text_object(e) for e in block.get("elements", ()))]
    if kind == "divider":
        return ["—" * 20]
    return []


def text_of(message: Message) -> str:
    """The message as plain text for a terminal: headline, fields, context; buttons left out."""
    lines: list[str] = []
    for block in message.blocks:
        lines.extend(_block_text(block))
    return "\n".join(lines)


def buttons(message: Message) -> list[tuple[str, str, str]]:
    """The message's buttons in order, as (label, action_id, value)."""
    found: list[tuple[str, str, str]] = []
    for block in message.blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", ()):
            if element.get("type") == "button":
                label = str(element.get("text", {}).get("text", ""))
                found.append(
                    (label, str(element.get("action_id", "")), str(element.get("value", "")))
                )
    return found
