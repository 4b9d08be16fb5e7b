"""Slash commands as typed: `/deploy mybot staging x` → Deploy("mybot", "staging", "x").

The same parser serves Slack and the console. Mistakes raise BadInput with the
command's usage, so the reply can say what was wrong and how to write it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from chatops.domain import mrkdwn
from chatops.domain.names import parse_duration, parse_version, validate_name, validate_ref
from chatops.domain.policy import MAX_LOCK
from chatops.errors import BadInput

__all__ = [
    "COMMANDS",
    "USAGE",
    "Approve",
    "Cancel",
    "Command",
    "Deploy",
    "Help",
    "Lock",
    "Logs",
    "Promote",
    "Reject",
    "Releases",
    "Rollback",
    "Status",
    "Unlock",
    "parse",
]

USAGE: dict[str, str] = {
    "/deploy": "/deploy <bot> <env> [ref]",
    "/promote": "/promote <bot> [env]",
    "/rollback": "/rollback <bot> <env> [vN] [reason…]",
    "/releases": "/releases <bot> [env]",
    "/status": "/status [bot]",
    "/logs": "/logs <bot> <env> [lines]",
    "/lock": "/lock <bot> <env> [--for 2h] <reason>",
    "/unlock": "/unlock <bot> <env>",
    "/approve": "/approve <id>",
    "/reject": "/reject <id> [reason]",
    "/cancel": "/cancel <bot> <env>",
    "/chatops": "/chatops help",
}
COMMANDS = tuple(USAGE)
MAX_LOG_LINES = 500
MAX_REASON = 1000
MAX_ID = 2**31 - 1  # what the database's integer ids hold
_FORCE = "--force"
_LINES = re.compile(r"[0-9]{1,4}")
_VERSION = re.compile(r"[vV]?[0-9]+")  # a version, not the first word of a reason
_VERSIONISH = re.compile(r"[vV][0-9]")  # a mistyped version is refused, never taken as a reason


@dataclass(frozen=True, slots=True)
class Deploy:
    bot: str
    env: str
    ref: str | None = None
    force_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Promote:
    bot: str
    env: str | None = None
    force_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    bot: str
    env: str
    to_version: int | None = None
    force_reason: str | None = None
    reason: str | None = None  # why, as typed: recorded, shown, audited


@dataclass(frozen=True, slots=True)
class Releases:
    bot: str
    env: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    bot: str | None = None


@dataclass(frozen=True, slots=True)
class Logs:
    bot: str
    env: str
    lines: int = 50


@dataclass(frozen=True, slots=True)
class Lock:
    bot: str
    env: str
    reason: str
    duration_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Unlock:
    bot: str
    env: str


@dataclass(frozen=True, slots=True)
class Approve:
    deployment_id: int


@dataclass(frozen=True, slots=True)
class Reject:
    deployment_id: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    bot: str
    env: str


@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None = None


Command = (
    Deploy
    | Promote
    | Rollback
    | Releases
    | Status
    | Logs
    | Lock
    | Unlock
    | Approve
    | Reject
    | Cancel
    | Help
)


def _words(text: str, usage: str) -> list[str]:
    # Slack escapes &, < and > in command text: undone here, once and only here
    text = mrkdwn.unescape(text).strip()
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInput(f"could not read the arguments: {exc}", usage=usage) from None


def _split_force(words: list[str], usage: str) -> tuple[list[str], str | None]:
    if _FORCE not in words:
        return words, None
    at = words.index(_FORCE)
    reason = " ".join(words[at + 1 :]).strip()
    if not reason:
        raise BadInput("--force needs a reason after it", usage=f"{usage} --force <reason>")
    return words[:at], reason


def _arity(words: list[str], least: int, most: int, usage: str) -> None:
    if len(words) < least:
        missing = "an argument is missing" if least - len(words) == 1 else "arguments are missing"
        raise BadInput(missing, usage=usage)
    if len(words) > most:
        raise BadInput(f"too many arguments: {' '.join(words[most:])!r}", usage=usage)


def _name(kind: str, value: str, usage: str) -> str:
    try:
        return validate_name(kind, value)
    except BadInput as exc:
        raise BadInput(exc.message, hint=exc.hint, usage=usage) from None


def parse(command: str, text: str) -> Command:
    """Parse one slash command.

    Args:
        command: `/deploy`, `/promote`, … or `/chatops` (whose first word may name another command).
        text: what followed the command.

    Raises:
        BadInput: unknown command or malformed arguments; `usage` says how to write it.
    """
    command = command.strip().lower()
    if not command.startswith("/"):
        command = "/" + command
    if command == "/chatops":
        words = _words(text, USAGE["/chatops"])
        if not words or words[0].lower() in ("help", "-h", "--help"):
            return Help(words[1] if len(words) > 1 else None)
        sub = "/" + words[0].lower().lstrip("/")
        if sub in USAGE and sub != "/chatops":
            # the words are read already: parsing them again would unescape twice
            return _parse_words(sub, words[1:])
        raise BadInput(f"unknown command {words[0]!r}", usage=USAGE["/chatops"])
    usage = USAGE.get(command)
    if usage is None:
        raise BadInput(f"unknown command {command!r}", usage=USAGE["/chatops"])
    if command == "/reject":
        # the reason is taken as written, quotes and all: unescaped once, never split
        return _reject(mrkdwn.unescape(text), usage)
    if command == "/rollback" and _FORCE not in text.split():
        # likewise the reason after `<bot> <env> [vN]`
        return _rollback_as_written(mrkdwn.unescape(text), usage)
    return _parse_words(command, _words(text, usage))


def _rollback_as_written(text: str, usage: str) -> Command:
    words = text.strip().split(maxsplit=2)
    if words and words[0].lower() in ("help", "-h", "--help"):
        return Help("rollback")
    if len(words) < 3:
        return _rollback(words, usage)
    first, _, rest = words[2].partition(" ")
    if _VERSION.fullmatch(first) or _VERSIONISH.match(first):
        return _rollback([*words[:2], first, *([rest] if rest.strip() else [])], usage)
    return _rollback([*words[:2], words[2]], usage)


def _parse_words(command: str, words: list[str]) -> Command:
    if words and words[0].lower() in ("help", "-h", "--help"):
        return Help(command.lstrip("/"))
    if command == "/reject":
        return _reject(" ".join(words), USAGE[command])
    return _PARSERS[command](words, USAGE[command])


def _deploy(words: list[str], usage: str) -> Command:
    words, force = _split_force(words, usage)
    _arity(words, 2, 3, usage)
    ref = None
    if len(words) == 3:
        try:
            ref = validate_ref(words[2])
        except BadInput as exc:
            raise BadInput(exc.message, hint=exc.hint, usage=usage) from None
    return Deploy(_name("bot", words[0], usage), _name("environment", words[1], usage), ref, force)


def _promote(words: list[str], usage: str) -> Command:
    words, force = _split_force(words, usage)
    _arity(words, 1, 2, usage)
    env = _name("environment", words[1], usage) if len(words) == 2 else None
    return Promote(_name("bot", words[0], usage), env, force)


def _rollback(words: list[str], usage: str) -> Command:
    words, force = _split_force(words, usage)
    _arity(words, 2, 10_000, usage)
    version = None
    rest = words[2:]
    if rest and (_VERSION.fullmatch(rest[0]) or _VERSIONISH.match(rest[0])):
        try:
            version = parse_version(rest[0])
        except BadInput as exc:
            raise BadInput(exc.message, hint=exc.hint, usage=usage) from None
        rest = rest[1:]
    reason = " ".join(rest).strip() or None  # one word when taken as written
    if reason is not None and len(reason) > MAX_REASON:
        raise BadInput(f"the reason is longer than {MAX_REASON} characters", usage=usage)
    return Rollback(
        _name("bot", words[0], usage),
        _name("environment", words[1], usage),
        version,
        force,
        reason,
    )


def _releases(words: list[str], usage: str) -> Command:
    _arity(words, 1, 2, usage)
    env = _name("environment", words[1], usage) if len(words) == 2 else None
    return Releases(_name("bot", words[0], usage), env)


def _status(words: list[str], usage: str) -> Command:
    _arity(words, 0, 1, usage)
    return Status(_name("bot", words[0], usage) if words else None)


def _logs(words: list[str], usage: str) -> Command:
    _arity(words, 2, 3, usage)
    lines = 50
    if len(words) == 3:
        if not _LINES.fullmatch(words[2]) or not 1 <= int(words[2]) <= MAX_LOG_LINES:
            raise BadInput(f"lines must be a number from 1 to {MAX_LOG_LINES}", usage=usage)
        lines = int(words[2])
    return Logs(_name("bot", words[0], usage), _name("environment", words[1], usage), lines)


def _lock(words: list[str], usage: str) -> Command:
    duration = None
    if "--for" in words:
        at = words.index("--for")
        if at + 1 >= len(words):
            raise BadInput("--for needs a duration such as 2h", usage=usage)
        try:
            duration = parse_duration(words[at + 1], at_most=int(MAX_LOCK.total_seconds()))
        except BadInput as exc:
            raise BadInput(exc.message, hint=exc.hint, usage=usage) from None
        words = words[:at] + words[at + 2 :]
    if len(words) < 3:
        raise BadInput("a lock needs a bot, an environment and a reason", usage=usage)
    reason = " ".join(words[2:]).strip()
    return Lock(
        _name("bot", words[0], usage), _name("environment", words[1], usage), reason, duration
    )


def _unlock(words: list[str], usage: str) -> Command:
    _arity(words, 2, 2, usage)
    return Unlock(_name("bot", words[0], usage), _name("environment", words[1], usage))


def _deployment_id(word: str, usage: str) -> int:
    digits = word.removeprefix("#")
    valid = digits.isascii() and digits.isdigit() and len(digits) <= len(str(MAX_ID))
    if not valid or not 1 <= int(digits) <= MAX_ID:
        raise BadInput(
            f"{word!r} is not a deployment id",
            hint="use the number after # on the deployment's message, e.g. 12",
            usage=usage,
        )
    return int(digits)


def _approve(words: list[str], usage: str) -> Command:
    _arity(words, 1, 1, usage)
    return Approve(_deployment_id(words[0], usage))


def _reject(text: str, usage: str) -> Command:
    """`/reject 12 it's not ready`: the reason is taken as written (quotes and all)."""
    words = text.strip().split(maxsplit=1)
    _arity(words, 1, 2, usage)
    first, rest = words[0], words[1:]
    if first.lower() in ("help", "-h", "--help"):
        return Help("reject")
    reason = rest[0].strip() if rest else None
    if reason is not None and len(reason) > MAX_REASON:
        raise BadInput(f"the reason is longer than {MAX_REASON} characters", usage=usage)
    return Reject(_deployment_id(first, usage), reason)


def _cancel(words: list[str], usage: str) -> Command:
    _arity(words, 2, 2, usage)
    return Cancel(_name("bot", words[0], usage), _name("environment", words[1], usage))


_PARSERS = {
    "/deploy": _deploy,
    "/promote": _promote,
    "/rollback": _rollback,
    "/releases": _releases,
    "/status": _status,
    "/logs": _logs,
    "/lock": _lock,
    "/unlock": _unlock,
    "/approve": _approve,
    "/cancel": _cancel,
}
