"""Hints in the medium's own syntax: the core writes slash commands; the CLI shows `chatops …`.

The services name the next step as a Slack user would type it (`/unlock mybot
staging`); a person at a terminal gets the same step as a command line
(`chatops unlock mybot staging`), with the arguments Slack takes as free text
turned into the options the CLI takes for them.
"""

from __future__ import annotations

import re

__all__ = ["for_cli"]

_SLASH = re.compile(r"(?<![\w/<])/(?P<command>[a-z]+)(?P<rest>(?: [^`\n]*)?)")
_COMMANDS = frozenset(
    {
        "approve",
        "cancel",
        "chatops",
        "deploy",
        "lock",
        "logs",
        "promote",
        "reject",
        "releases",
        "rollback",
        "status",
        "unlock",
    }
)
# the word after which Slack takes the rest of the line as one text, and the CLI option for it
_TRAILING = {"lock": (2, "--reason"), "reject": (1, "--reason"), "logs": (2, "--lines")}


def _command(match: re.Match[str]) -> str:
    command, rest = match.group("command"), match.group("rest")
    if command not in _COMMANDS:
        return match.group(0)
    if command == "chatops":
        return "chatops --help"
    words = rest.split()
    if command in _TRAILING:
        fixed, option = _TRAILING[command]
        if len(words) > fixed:
            trailing = " ".join(words[fixed:])
            spaced = " " in trailing and not trailing.startswith("<")
            quoted = f"'{trailing}'" if spaced else trailing
            words = [*words[:fixed], option, quoted]
    return " ".join(["chatops", command, *words])


def for_cli(text: str | None) -> str | None:
    """`text` with every slash command in it written as the `chatops` command that does the same."""
    if text is None:
        return None
    return _SLASH.sub(_command, text)
