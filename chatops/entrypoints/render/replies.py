"""The answers a person gets to what they typed or pressed, in any medium.

An `Answer` is what chat handlers return (entrypoints/chat.py); Slack and the
console each write it with their own `Markup` through `document`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatops.domain.commands import USAGE
from chatops.entrypoints.render import listings, words
from chatops.entrypoints.render.document import (
    FALLBACK_LIMIT,
    SECTION_LIMIT,
    Document,
    Header,
    Markup,
    Note,
    Section,
)
from chatops.services.views import ReleaseRow, StatusRow

__all__ = [
    "COMMAND_HELP",
    "Answer",
    "Help",
    "Logs",
    "Refusal",
    "Releases",
    "Said",
    "Status",
    "Usage",
    "document",
    "help_",
    "refusal",
    "said",
    "usage",
]

COMMAND_HELP: tuple[tuple[str, str], ...] = (
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


# ── answers ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Said:
    """A one-line answer (`:lock: mybot in prod is locked …`); emoji codes work, markup is text."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """A mistyped command: what was wrong, and how to write it."""

    problem: str
    usage: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why not, and what to do instead."""

    message: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    """Every command with its syntax, or one command's (`topic`)."""

    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Releases:
    bot: str
    rows: Sequence[ReleaseRow]


@dataclass(frozen=True, slots=True)
class Status:
    rows: Sequence[StatusRow]


@dataclass(frozen=True, slots=True)
class Logs:
    bot: str
    env: str
    text: str  # already redacted


Answer = Said | Usage | Refusal | Help | Releases | Status | Logs


def document(answer: Answer, m: Markup) -> Document:
    """`answer` written in `m`."""
    match answer:
        case Said(text):
            return said(text, m)
        case Usage(problem, usage_):
            return usage(problem, usage_, m)
        case Refusal(message, hint):
            return refusal(message, hint, m)
        case Help(topic):
            return help_(topic, m)
        case Releases(bot, rows):
            return listings.releases(bot, rows, m)
        case Status(rows):
            return listings.status(rows, m)
        case Logs(bot, env, text):
            return listings.logs(bot, env, text, m)
    raise AssertionError(f"unknown answer {answer!r}")  # pragma: no cover


# ── documents ────────────────────────────────────────────────────────────────


def help_(topic: str | None, m: Markup) -> Document:
    """The answer to `/chatops help` (every command with its syntax), or `/<topic> help`."""
    if topic is not None:
        command = "/" + topic.strip().lstrip("/").lower()
        meaning = dict(COMMAND_HELP).get(command)
        if meaning is not None:
            syntax = USAGE.get(command, command)
            return Document(
                m.text(f"{syntax} — {meaning}"),
                (
                    Section(f"{m.code(syntax)}\n{m.text(meaning)}"),
                    Note(f"{m.code('/chatops help')} lists every command."),
                ),
            )
    lines = [
        f"{m.code(USAGE.get(command, command))} — {m.text(meaning)}"
        for command, meaning in COMMAND_HELP
    ]
    buttons = (
        f"{m.strong('Buttons:')} {m.strong('Promote')} on a release that went live in staging · "
        f"{m.strong('Approve')} / {m.strong('Reject')} on a pending promotion (a ✅ reaction "
        f"approves too) · {m.strong('Roll back')} on a live deployment and on every alert · "
        f"{m.strong('Acknowledge')} on an alert"
    )
    force = m.code("--force <reason>")
    commands = ", ".join(m.code(c) for c in ("/deploy", "/promote"))
    rules = (
        "Production takes only promotions of what ran healthy in staging. Admins can add "
        f"{force} to {commands} or {m.code('/rollback')} to go past a lock or freeze."
    )
    parts = (
        Header("chatops commands"),
        Section("\n".join(lines)),
        Section(buttons),
        Note(rules),
    )
    text = "chatops commands: " + ", ".join(command for command, _ in COMMAND_HELP)
    return Document(m.text(text), parts)


def said(text: str, m: Markup) -> Document:
    return Document(m.text(text, FALLBACK_LIMIT), (Section(m.text(text, SECTION_LIMIT)),))


def usage(problem: str, syntax: str, m: Markup) -> Document:
    parts = (
        Section(f"⚠️ {m.text(problem, 1000)}"),
        Section(f"{m.strong('Usage:')} {m.code(words.cut(syntax, 500))}"),
        Note(f"{m.code('/chatops help')} lists every command."),
    )
    return Document(m.text(f"{problem} — usage: {syntax}"), parts)


def refusal(message: str, hint: str | None, m: Markup) -> Document:
    instead = hint or "`/chatops help` lists what you can do"
    parts = (
        Section(f"🚫 {m.text(message, 1500)}"),
        Section(f"👉 {m.text(instead, 1000)}"),
    )
    return Document(m.text(f"{message} — {instead}"), parts)
