"""Reading Block Kit as a person in Slack sees it: what tests check in the messages chatops sent.

Slack's clients show dates in the reader's zone (UTC here), mentions as @names
and links with their text; this reads the blocks that way, so tests can assert
on what a message says and which buttons it offers, whether the message was
rendered in the test or posted to the Slack stand-in over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from chatops.domain.mrkdwn import unescape
from chatops.entrypoints.slack.blocks import Message

__all__ = ["buttons", "text_of"]


def _blocks(message: Message | Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    return message.blocks if isinstance(message, Message) else message


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


def text_of(message: Message | Sequence[dict[str, Any]]) -> str:
    """The message as plain text: headline, fields, context; buttons left out."""
    lines: list[str] = []
    for block in _blocks(message):
        lines.extend(_block_text(block))
    return "\n".join(lines)


def buttons(message: Message | Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The message's buttons in order, as (label, action_id, value)."""
    found: list[tuple[str, str, str]] = []
    for block in _blocks(message):
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", ()):
            if element.get("type") == "button":
                label = str(element.get("text", {}).get("text", ""))
                found.append(
                    (label, str(element.get("action_id", "")), str(element.get("value", "")))
                )
    return found
