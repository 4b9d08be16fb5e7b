"""Slack's mrkdwn, both ways: making text people or programs wrote inert, and reading what
Slack sends.

Slack gives `&`, `<` and `>` meaning (`<!channel>`, `<@U…>`, `<url|text>`) and escapes
exactly these three in what it sends us. `escape` is the one function every piece of
echoed text goes through before it reaches Slack; `unescape` undoes Slack's escaping
exactly once, so `&lt;!here&gt;` typed by a person stays text and never becomes a live
`<!here>`.
"""

from __future__ import annotations

import re

__all__ = ["code", "escape", "unescape"]

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
# U+02CB MODIFIER LETTER GRAVE ACCENT: looks like a backtick, ends no code span
_GRAVE = "\u02cb"


def escape(text: str) -> str:
    """`text` as mrkdwn that shows it as written: no mention, link or date can come alive."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of `&`, `<` and `>`, once (`&amp;lt;` becomes `&lt;`, not `<`)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def code(text: str) -> str:
    """An inline code span of `text` that nothing in it can end or break out of."""
    inner = escape(text).replace("`", _GRAVE).replace("\r", " ").replace("\n", " ")
    return f"`{inner}`" if inner.strip() else "` `"
