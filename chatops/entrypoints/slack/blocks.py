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

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from chatops.domain.mrkdwn import unescape
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
    "buttons",
    "deployment_message",
    "help_message",
    "logs_message",
    "plain_message",
    "refusal_message",
    "releases_message",
    "reply_message",
    "soaked_message",
    "status_message",
    "text_of",
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
