"""Slack's side of rendering: mrkdwn for inline text, and Block Kit blocks within Slack's limits.

`SLACK` is the `Markup` the message families write Slack messages with. Text
that people or programs wrote (commit subjects, reasons, refs, logs) is escaped
by the one `chatops.domain.mrkdwn.escape` (code spans by its `code`) and cut to
fit before it goes into a block; the block constructors cut what is composed
once more, never leaving half an escape or a link behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from chatops.domain.mrkdwn import code, escape
from chatops.entrypoints.render.document import FALLBACK_LIMIT, SECTION_LIMIT
from chatops.entrypoints.render.words import cut, is_slack_user, utc

__all__ = [
    "MAX_BLOCKS",
    "SLACK",
    "Message",
    "SlackMarkup",
    "button",
    "code_chunks",
    "confirm",
    "context",
    "fields",
    "header",
    "message",
    "packed",
    "section",
]

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks)
MAX_BLOCKS = 50
FIELD_LIMIT = 2000
CONTEXT_LIMIT = 2000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300

LOG_LINES = 10
LOG_LINE_WIDTH = 300


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: `text` for notifications and clients without blocks, `blocks` to show."""

    text: str
    blocks: list[dict[str, Any]]


# ── inline text ──────────────────────────────────────────────────────────────


def fit(raw: str, limit: int, *, keep_end: bool = False) -> str:
    """`raw` escaped for mrkdwn and cut so that the escaped text fits in `limit`.

    Cuts between characters of `raw`, never inside an escape; `keep_end` keeps the end
    (for logs) instead of the start.
    """
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    size = 0
    for char in reversed(raw) if keep_end else raw:
        piece = escape(char)
        if size + len(piece) > limit - 1:
            break
        pieces.append(piece)
        size += len(piece)
    if keep_end:
        return "…" + "".join(reversed(pieces))
    return "".join(pieces) + "…"


def clip(markup: str, limit: int) -> str:
    """Last guard for composed mrkdwn: cut without leaving half a `<…>` or `&…;` behind."""
    if len(markup) <= limit:
        return markup
    head = markup[: limit - 1]
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]
    if head.rfind("&") > head.rfind(";"):
        head = head[: head.rfind("&")]
    return head.rstrip() + "…"


def _log_lines(raw: str) -> list[str]:
    """Lines of output, each cut to a readable width, with no fence that could end a code block."""
    return [
        cut(line, LOG_LINE_WIDTH).replace("```", "`\u200b`\u200b`")
        for line in raw.rstrip().splitlines()
    ]


class SlackMarkup:
    """The `Markup` of Slack messages: mrkdwn, mentions of Slack users, dates in the reader's TZ."""

    def text(self, raw: str, limit: int | None = None) -> str:
        return escape(raw) if limit is None else fit(raw, limit)

    def strong(self, markup: str) -> str:
        return f"*{markup}*"

    def code(self, raw: str) -> str:
        return code(raw)

    def output(self, raw: str, *, limit: int) -> str:
        """A code block of the last `LOG_LINES` lines of `raw`."""
        body = "\n".join(_log_lines(raw)[-LOG_LINES:])
        return f"```\n{fit(body, limit - 8, keep_end=True)}\n```"

    def person(self, user: str | None) -> str:
        """A Slack mention for a Slack user id; anyone else (a CLI user, chatops) by name."""
        if not user:
            return "someone"
        if is_slack_user(user):
            return f"<@{user}>"
        return fit(user, 80)

    def moment(self, at: datetime) -> str:
        """A date Slack shows in the reader's time zone, with UTC as the fallback text."""
        at = utc(at)
        shown = "{date_short_pretty} {time}"
        return f"<!date^{int(at.timestamp())}^{shown}|{at:%Y-%m-%d %H:%M} UTC>"

    def link(self, url: str, label: str) -> str:
        return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"


SLACK = SlackMarkup()


def code_chunks(raw: str, *, room: int) -> tuple[list[str], int]:
    """The end of `raw` as at most `room` code blocks that each fill one section.

    Returns the code blocks, oldest first, and how many earlier lines did not fit.
    """
    lines = _log_lines(raw)
    chunks: list[list[str]] = [[]]  # newest first, each newest line first
    size = 0
    for line in reversed(lines):
        escaped = escape(line)
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


# ── blocks ───────────────────────────────────────────────────────────────────


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=cut(text, HEADER_LIMIT), emoji=True))


def section(markup: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(markup, SECTION_LIMIT)))


def fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    """A two-column section of `*label*` over value, at most ten."""
    return SectionBlock(
        fields=[
            MarkdownTextObject(text=clip(f"*{label}*\n{value}", FIELD_LIMIT))
            for label, value in pairs[:10]
        ]
    )


def context(*markups: str) -> ContextBlock:
    return ContextBlock(
        elements=[MarkdownTextObject(text=clip(m, CONTEXT_LIMIT)) for m in markups[:10]]
    )


def button(
    label: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=cut(label, BUTTON_TEXT_LIMIT), emoji=True),
        action_id=action_id,
        value=value,
        style=style,
        confirm=confirm,
    )


def confirm(title: str, text: str, *, go: str) -> ConfirmObject:
    """A danger dialog titled `title` asking `text` (mrkdwn), with `go` and Cancel."""
    return ConfirmObject(
        title=PlainTextObject(text=cut(title, CONFIRM_TITLE_LIMIT)),
        text=MarkdownTextObject(text=clip(text, CONFIRM_TEXT_LIMIT)),
        confirm=PlainTextObject(text=go),
        deny=PlainTextObject(text="Cancel"),
        style="danger",
    )


def packed(items: Sequence[str], *, room: int) -> list[Block]:
    """Items (mrkdwn, one or more lines each) packed into as few sections as fit.

    At most `room` blocks; what does not fit is counted in a last context line.
    """
    sections: list[str] = []
    current = ""
    for item in (clip(i, SECTION_LIMIT) for i in items):
        if current and len(current) + 1 + len(item) > SECTION_LIMIT:
            sections.append(current)
            current = item
        else:
            current = f"{current}\n{item}" if current else item
    if current:
        sections.append(current)
    if len(sections) <= room:
        return [section(s) for s in sections]
    shown = sections[: room - 1]
    left = len(sections) - len(shown)
    blocks: list[Block] = [section(s) for s in shown]
    blocks.append(context(f"… and {left} more screenful{'s' if left > 1 else ''} not shown"))
    return blocks


def message(text: str, blocks: Sequence[Block]) -> Message:
    """The message of `blocks`, shortened to Slack's block count, with `text` as its fallback."""
    kept = list(blocks)
    if len(kept) > MAX_BLOCKS:
        kept = [*kept[: MAX_BLOCKS - 1], context("… shortened to fit in one Slack message")]
    return Message(text=clip(text, FALLBACK_LIMIT), blocks=[b.to_dict() for b in kept])
