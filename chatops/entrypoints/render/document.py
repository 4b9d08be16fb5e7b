"""The shape of a message, whatever shows it: its parts in order, its buttons, and the
`Markup` of the medium that writes its inline text.

A message family (deployments, alerts, listings, replies) builds a `Document`
from a service view with a `Markup` — Slack's mrkdwn (slack/mrkdwn.py) or the
terminal's rich markup (entrypoints/terminal.py) — so what a message says and
which buttons it has are decided once, and each medium only lays the parts out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

__all__ = [
    "FALLBACK_LIMIT",
    "SECTION_LIMIT",
    "Action",
    "Confirm",
    "Document",
    "Fields",
    "Header",
    "Items",
    "Markup",
    "Note",
    "Output",
    "Part",
    "Person",
    "Section",
    "Span",
    "Strong",
    "people",
    "spans",
]

# Slack is the tightest medium, so its limits say how much text a part may hold
# (https://docs.slack.dev/reference/block-kit/blocks): a section, and a notification.
SECTION_LIMIT = 3000
FALLBACK_LIMIT = 1000


class Markup(Protocol):
    """How one medium writes inline text. Everything people or programs wrote goes through
    `text`, `code` or `output`, so none of it can turn into markup."""

    def text(self, raw: str, limit: int | None = None) -> str:
        """`raw` shown as written, cut so that what is shown fits in `limit` characters."""
        ...

    def strong(self, markup: str) -> str:
        """`markup` in bold."""
        ...

    def code(self, raw: str) -> str:
        """`raw` as an inline code span (a commit, a ref, a command)."""
        ...

    def output(self, raw: str, *, limit: int) -> str:
        """The last lines of a program's output as a block that fits in `limit`."""
        ...

    def person(self, user: str | None) -> str:
        """A person (a Slack user id, a CLI user's name) or chatops itself."""
        ...

    def moment(self, at: datetime) -> str:
        """A date and time."""
        ...

    def link(self, url: str, label: str) -> str:
        """A link called `label`."""
        ...


def people(m: Markup, users: Iterable[str]) -> str:
    return ", ".join(m.person(u) for u in users)


# ── text with a little structure, for what is decided before a medium is chosen ──


@dataclass(frozen=True, slots=True)
class Strong:
    text: str


@dataclass(frozen=True, slots=True)
class Person:
    user: str | None


Span = str | Strong | Person


def spans(parts: Iterable[Span], m: Markup) -> str:
    """`parts` written in `m`: plain text escaped, `Strong` in bold, `Person` as a mention."""
    written: list[str] = []
    for part in parts:
        match part:
            case Strong(text):
                written.append(m.strong(m.text(text)))
            case Person(user):
                written.append(m.person(user))
            case str():
                written.append(m.text(part))
    return "".join(written)


# ── buttons ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Confirm:
    """The question asked before a button with consequences does its work."""

    title: str  # plain text: "Roll back mybot in prod?"
    text: tuple[Span, ...]
    confirm: str  # the label of the button that goes ahead


@dataclass(frozen=True, slots=True)
class Action:
    """One button: `action_id` and `value` are the contract of DESIGN §6."""

    label: str
    action_id: str
    value: str
    style: Literal["primary", "danger"] | None = None
    confirm: Confirm | None = None


# ── parts of a message ───────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Header:
    """The headline, plain text (it may hold emoji characters)."""

    text: str


@dataclass(frozen=True, slots=True)
class Fields:
    """Facts as (label, markup) pairs: `Version`, `v3`."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Section:
    """A paragraph of markup; lines are separated by newlines."""

    markup: str


@dataclass(frozen=True, slots=True)
class Note:
    """Small print: who decided, a warning, a date."""

    markup: str


@dataclass(frozen=True, slots=True)
class Items:
    """A list that may run long (releases, status rows): each item markup, one or more lines."""

    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Output:
    """Program output shown for itself (`/logs`), as much of its end as the medium allows."""

    raw: str


Part = Header | Fields | Section | Note | Items | Output


@dataclass(frozen=True, slots=True)
class Document:
    """One message: `text` notifies (Slack's fallback), `parts` show it, `actions` are buttons."""

    text: str
    parts: tuple[Part, ...]
    actions: tuple[Action, ...] = ()
