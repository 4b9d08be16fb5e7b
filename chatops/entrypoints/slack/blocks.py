"""Block Kit rendering of every message chatops posts in Slack: pure functions of service views.

Each function returns a `Message` — the notification fallback `text` and the
`blocks` as dicts, built with slack_sdk's typed models so Slack's limits are
checked as they are rendered. What a message says and which buttons it has are
decided by the message families in `chatops.entrypoints.render` (the console
shows the same); this module lays their parts out as blocks, written in
mrkdwn (slack/mrkdwn.py). Nothing here reads a clock, a client or the
environment: time comes from the views, so the same view renders the same
message, which the snapshot tests pin down.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from chatops.entrypoints.render import alerts, deployments, listings, replies
from chatops.entrypoints.render.document import (
    Action,
    Document,
    Fields,
    Header,
    Items,
    Note,
    Output,
    Section,
    spans,
)
from chatops.entrypoints.slack.mrkdwn import (
    MAX_BLOCKS,
    SLACK,
    Message,
    button,
    code_chunks,
    confirm,
    context,
    fields,
    header,
    message,
    packed,
    section,
)
from chatops.services.views import AlertView, DeploymentView, ReleaseRow, StatusRow

__all__ = [
    "MAX_BLOCKS",
    "Message",
    "alert_message",
    "alert_resolved_reply",
    "deployment_message",
    "help_message",
    "logs_message",
    "plain_message",
    "refusal_message",
    "releases_message",
    "reply_message",
    "soaked_message",
    "status_message",
    "usage_message",
]


def deployment_message(view: DeploymentView) -> Message:
    """The one channel message of a deployment, re-rendered on every state change."""
    return render(deployments.deployment(view, SLACK))


def soaked_message(view: DeploymentView) -> Message:
    """`mybot v3 has soaked in staging — ready to promote to prod`, with a Promote button."""
    return render(deployments.soaked(view, SLACK))


def alert_message(view: AlertView) -> Message:
    """The one channel message of an incident, updated on repeats, acknowledgement and recovery."""
    return render(alerts.alert(view, SLACK))


def alert_resolved_reply(view: AlertView) -> Message:
    """The short reply in the alert's thread once the bot is healthy again."""
    return render(alerts.resolved_reply(view, SLACK))


def reply_message(answer: replies.Answer) -> Message:
    """The answer to a command or a button, as its ephemeral (or channel) reply."""
    return render(replies.document(answer, SLACK))


def releases_message(bot: str, rows: Sequence[ReleaseRow]) -> Message:
    """The reply to `/releases`: newest first, one line per release."""
    return render(listings.releases(bot, rows, SLACK))


def status_message(rows: Sequence[StatusRow]) -> Message:
    """The reply to `/status`: what runs where, and anything that needs attention."""
    return render(listings.status(rows, SLACK))


def logs_message(bot: str, env: str, text: str) -> Message:
    """The reply to `/logs`: the last lines of what runs (already redacted), as code."""
    return render(listings.logs(bot, env, text, SLACK))


def help_message(topic: str | None = None) -> Message:
    """The reply to `/chatops help` (every command with its syntax), or `/<topic> help`."""
    return render(replies.help_(topic, SLACK))


def plain_message(text: str) -> Message:
    """A one-line reply (`:lock: mybot in prod is locked …`); emoji codes work, markup is text."""
    return render(replies.said(text, SLACK))


def usage_message(problem: str, usage: str) -> Message:
    """An ephemeral reply to a mistyped command: what was wrong, and how to write it."""
    return render(replies.usage(problem, usage, SLACK))


def refusal_message(message: str, hint: str | None = None) -> Message:
    """An ephemeral refusal: why not, and what to do instead."""
    return render(replies.refusal(message, hint, SLACK))


# ── a document as blocks ─────────────────────────────────────────────────────


def render(document: Document) -> Message:
    """`document` (written in mrkdwn) as Block Kit, its buttons last."""
    blocks: list[Block] = []
    for part in document.parts:
        match part:
            case Header(text):
                blocks.append(header(text))
            case Fields(pairs):
                blocks.append(fields(pairs))
            case Section(markup):
                blocks.append(section(markup))
            case Note(markup):
                blocks.append(context(markup))
            case Items(items):
                blocks.extend(packed(items, room=MAX_BLOCKS - len(blocks)))
            case Output(raw):
                chunks, hidden = code_chunks(raw, room=MAX_BLOCKS - len(blocks) - 1)
                if hidden:
                    lines = "line" if hidden == 1 else "lines"
                    blocks.append(context(f"… {hidden} earlier {lines} do not fit in one message"))
                blocks.extend(section(chunk) for chunk in chunks)
    if document.actions:
        blocks.append(ActionsBlock(elements=[_button(a) for a in document.actions]))
    return message(document.text, blocks)


def _button(action: Action) -> ButtonElement:
    dialog = action.confirm
    return button(
        action.label,
        action.action_id,
        action.value,
        style=action.style,
        confirm=confirm(dialog.title, spans(dialog.text, SLACK), go=dialog.confirm)
        if dialog
        else None,
    )
