"""`chatops console`: the Slack commands in a terminal, like Hubot's shell adapter.

Type `/deploy mybot staging`; channel messages are printed as text with their
buttons numbered; `press 3` presses button 3; `as U0LEAD` changes who you are.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import TextIO

from chatops.bootstrap import Application, build
from chatops.config import Config
from chatops.domain.deployment import Deployment
from chatops.entrypoints.chat import ChatCommands, Reply
from chatops.entrypoints.slack import blocks
from chatops.services.alerts import AlertService
from chatops.services.context import Actor
from chatops.services.views import AlertView, DeploymentView

__all__ = ["Console", "run"]

HELP = """\
Type a slash command as in Slack (`/deploy mybot staging`, `/chatops help`), or:
  press N     press button N of a message above
  as USER     act as another user id from now on
  buttons     list the buttons you can press
  quit        leave (also Ctrl-D)"""


class Console:
    """A terminal chat: commands in, messages and numbered buttons out."""

    def __init__(self, chat: ChatCommands, *, user: str, write: Callable[[str], object]) -> None:
        self._chat = chat
        self.user = user
        self._write = write
        self._buttons: list[tuple[str, str, str]] = []

    # the Notifier port: channel messages are printed
    def deployment_changed(self, view: DeploymentView) -> None:
        self._show(blocks.deployment_message(view), channel=view.channel)

    def build_output(self, deployment: Deployment, line: str) -> None:
        """Build output is not shown in the chat, as in Slack."""

    def deployment_soaked(self, view: DeploymentView) -> None:
        self._show(blocks.soaked_message(view), channel=view.channel)

    def alert_changed(self, view: AlertView) -> None:
        self._show(blocks.alert_message(view), channel=view.channel)

    def say(self, channel: str | None, text: str) -> None:
        self._write(f"[{channel or 'chat'}] {text}\n")

    def _show(
        self, message: blocks.Message, *, channel: str | None, ephemeral: bool = False
    ) -> None:
        where = "only you see this" if ephemeral else (channel or "chat")
        lines = [f"── [{where}] " + "─" * 40, blocks.text_of(message)]
        for label, action_id, value in blocks.buttons(message):
            self._buttons.append((label, action_id, value))
            lines.append(f"  [{len(self._buttons)}] {label}")
        self._write("\n".join(lines) + "\n")

    def handle(self, line: str) -> bool:
        """Handle one line; False when the person wants to leave."""
        line = line.strip()
        if not line:
            return True
        if line in ("quit", "exit"):
            return False
        if line in ("help", "?"):
            self._write(HELP + "\n")
            return True
        if line == "buttons":
            for number, (label, action_id, value) in enumerate(self._buttons, 1):
                self._write(f"  [{number}] {label} ({action_id} {value})\n")
            return True
        actor = Actor(self.user, "console")
        word, _, rest = line.partition(" ")
        if word == "as":
            self.user = rest.strip() or self.user
            self._write(f"you are {self.user}\n")
            return True
        if word == "press":
            if not rest.strip().isdigit() or not 1 <= int(rest) <= len(self._buttons):
                self._write(f"press takes a button number from 1 to {len(self._buttons)}\n")
                return True
            _, action_id, value = self._buttons[int(rest) - 1]
            self._reply(self._chat.press(actor, action_id, value))
            return True
        if word.startswith("/"):
            self._reply(self._chat.command(actor, word, rest))
            return True
        try:
            first = shlex.split(line)[0]
        except (ValueError, IndexError):
            first = line
        self._write(f"unknown input {first!r}; type `help`\n")
        return True

    def _reply(self, reply: Reply) -> None:
        self._show(reply.message, channel=None, ephemeral=reply.ephemeral)


def run(
    config: Config, *, user: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    """Read commands until quit or end of input."""
    application: Application = build(config)
    try:
        application.recovery.recover()
        console = Console(
            ChatCommands(application, AlertService(application.deps)),
            user=user,
            write=stdout.write,
        )
        application.add_notifier(console)
        stdout.write(f"chatops console — you are {user}; type `help`\n")
        interactive = stdin.isatty()
        while True:
            if interactive:
                stdout.write(f"{console.user}> ")
                stdout.flush()
            line = stdin.readline()
            if not line or not console.handle(line):
                break
            stdout.flush()
    finally:
        application.close()
