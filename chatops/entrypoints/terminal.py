"""The console's rendering: the documents Slack shows, written as lines of rich markup.

`TERMINAL` is the `Markup` the message families write console messages with:
text people or programs wrote is escaped for rich (a reason of `[red]` stays
text), Slack's emoji codes (`:lock:`) become the characters, as Slack shows
them, except inside code and program output, which are shown exactly.
"""

from __future__ import annotations

from datetime import datetime

from rich.emoji import Emoji
from rich.markup import escape as rich_escape
from rich.text import Text

from chatops.entrypoints.render.document import (
    Action,
    Document,
    Fields,
    Header,
    Items,
    Note,
    Output,
    Section,
)
from chatops.entrypoints.render.words import cut, is_slack_user, utc

__all__ = ["TERMINAL", "TerminalMarkup", "button", "escape", "lines", "plain"]

LOG_LINES = 10
LOG_LINE_WIDTH = 300
WIDTH = 100  # facts are packed into lines of about this many characters
_STYLE = {"primary": "bold green", "danger": "bold red"}


def escape(raw: str) -> str:
    """`raw` as rich markup that shows it as written, whatever markup follows it.

    (rich's own `escape` doubles a trailing backslash so that a tag after it stays a
    tag, which shows both backslashes when none follows; a zero-width space after it
    keeps it single in both cases.)
    """
    return rich_escape(raw + "\u200b" if raw.endswith("\\") else raw)


class TerminalMarkup:
    """The `Markup` of the console: rich markup, people as `@U…`, dates in UTC."""

    def text(self, raw: str, limit: int | None = None) -> str:
        shown = raw if limit is None else cut(raw, limit)
        return escape(Emoji.replace(shown))

    def strong(self, markup: str) -> str:
        return f"[bold]{markup}[/bold]"

    def code(self, raw: str) -> str:
        return f"[cyan]{escape(raw.replace(chr(10), ' '))}[/cyan]"

    def output(self, raw: str, *, limit: int) -> str:
        """The last lines of `raw`, indented and dimmed."""
        tail = raw.rstrip().splitlines()[-LOG_LINES:]
        return "\n".join(_output_line(line) for line in tail)

    def person(self, user: str | None) -> str:
        if not user:
            return "someone"
        if is_slack_user(user):
            return f"@{user}"
        return escape(cut(user, 80))

    def moment(self, at: datetime) -> str:
        return f"{utc(at):%Y-%m-%d %H:%M} UTC"

    def link(self, url: str, label: str) -> str:
        return f"{escape(label)} ({escape(url)})"


TERMINAL = TerminalMarkup()


def _output_line(line: str) -> str:
    return f"[dim]    {escape(cut(line, LOG_LINE_WIDTH))}[/dim]"


def lines(document: Document) -> list[str]:
    """`document` (written in `TERMINAL`) as rich markup, one string per line or paragraph."""
    indent = "  " if any(isinstance(part, Header) for part in document.parts) else ""
    shown: list[str] = []
    for part in document.parts:
        match part:
            case Header(text):
                shown.append(f"[bold]{escape(Emoji.replace(text))}[/bold]")
            case Fields(pairs):
                shown.extend(indent + line for line in _packed(pairs))
            case Section(markup):
                shown.append(indent + markup.replace("\n", "\n" + indent))
            case Note(markup):
                shown.append(f"{indent}[dim]{markup.replace(chr(10), chr(10) + indent)}[/dim]")
            case Items(items):
                shown.extend(indent + item.replace("\n", "\n" + indent) for item in items)
            case Output(raw):
                shown.extend(_output_line(line) for line in raw.rstrip().splitlines())
    return shown


def button(number: int, action: Action) -> str:
    """`  [3] Roll back`: a button the person presses by typing `press 3`."""
    label = escape(f"[{number}] {action.label}")
    style = _STYLE.get(action.style or "")
    return f"  [{style}]{label}[/{style}]" if style else f"  {label}"


def plain(markup: str) -> str:
    """What `markup` shows on a terminal without colours."""
    return Text.from_markup(markup, emoji=False).plain


def _packed(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    """`Label: value` pieces, as many on a line as fit in `WIDTH`."""
    packed: list[str] = []
    line, size = "", 0
    for label, value in pairs:
        piece = f"[dim]{escape(label)}:[/dim] {value}"
        width = len(label) + 2 + len(plain(value))
        if line and size + 3 + width > WIDTH:
            packed.append(line)
            line, size = "", 0
        line, size = (f"{line}   {piece}", size + 3 + width) if line else (piece, width)
    if line:
        packed.append(line)
    return packed
