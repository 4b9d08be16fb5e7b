"""`chatops console`: the Slack commands in a terminal, like Hubot's shell adapter.

Type `/deploy mybot staging`; channel messages are printed as Slack shows them
(the same message families, written for a terminal by terminal.py) with their
buttons numbered; `press 3` presses button 3; `as U0LEAD` changes who you are.
A message that moves on (a deployment goes live, an alert is acknowledged)
replaces its buttons: the old numbers say so when pressed. Health checks and
soak notices run as `serve` runs them, unless a `serve` on the same database
already does.
"""

from __future__ import annotations

import itertools
import logging
import shlex
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler
from rich.console import Console as RichConsole

from chatops.bootstrap import Application, build
from chatops.bootstrap.monitoring import Monitoring
from chatops.config import Config
from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment
from chatops.entrypoints import terminal
from chatops.entrypoints.chat import ChatCommands, Reply
from chatops.entrypoints.render import alerts, deployments, replies
from chatops.entrypoints.render.document import Action, Document
from chatops.entrypoints.scheduler import LEASE
from chatops.entrypoints.terminal import escape
from chatops.services.context import Actor
from chatops.services.leases import Leases
from chatops.services.views import AlertView, DeploymentView

__all__ = ["Console", "run", "unless_serve_does"]

log = logging.getLogger(__name__)

HELP = """\
Type a slash command as in Slack (`/deploy mybot staging`, `/chatops help`), or:
  press N     press button N of a message above
  as USER     act as another user id from now on
  buttons     list the buttons you can press
  quit        leave (also Ctrl-D)"""
SOAK_SECONDS = 10  # how often soak notices are looked for, as in `serve`


class Console:
    """A terminal chat: commands in, messages and numbered buttons out.

    Implements the Notifier port; messages arrive from the thread that typed a
    command and from the health checks' thread alike.
    """

    def __init__(self, chat: ChatCommands | None, *, user: str, out: RichConsole) -> None:
        # None until the application it is the notifier of is built (see `run`)
        self.chat = chat
        self.user = user
        self._out = out
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._messages = itertools.count(1)  # names messages that are never updated
        self._pressable: dict[int, tuple[str, Action]] = {}  # every number shown: (subject, button)
        self._current: dict[str, tuple[int, ...]] = {}  # a message's subject: its buttons now

    # ── the Notifier port: channel messages are printed ─────────────────────

    def deployment_changed(self, view: DeploymentView) -> None:
        document = deployments.deployment(view, terminal.TERMINAL)
        self._show(document, where=view.channel, subject=f"deployment:{view.deployment.id}")

    def build_output(self, deployment: Deployment, line: str) -> None:
        """Build output is not shown in the chat, as in Slack."""

    def deployment_soaked(self, view: DeploymentView) -> None:
        document = deployments.soaked(view, terminal.TERMINAL)
        self._show(document, where=view.channel, subject=None)

    def alert_changed(self, view: AlertView) -> None:
        document = alerts.alert(view, terminal.TERMINAL)
        self._show(document, where=view.channel, subject=f"alert:{view.alert.id}")
        if view.alert.state is AlertState.RESOLVED:
            reply = alerts.resolved_reply(view, terminal.TERMINAL)
            self._show(reply, where=f"{view.channel or 'chat'}, in the alert's thread")

    def say(self, channel: str | None, text: str) -> None:
        self._show(replies.said(text, terminal.TERMINAL), where=channel)

    # ── what the person types ───────────────────────────────────────────────

    def handle(self, line: str) -> bool:
        """Handle one line; False when the person wants to leave."""
        line = line.strip()
        if not line:
            return True
        if line in ("quit", "exit"):
            return False
        if line in ("help", "?"):
            self.write(escape(HELP))
            return True
        if line == "buttons":
            self.write(*self._listed())
            return True
        actor = Actor(self.user, "console")
        word, _, rest = line.partition(" ")
        if word == "as":
            self.user = rest.strip() or self.user
            self.write(f"you are {escape(self.user)}")
            return True
        if word == "press":
            self._press(actor, rest.strip())
            return True
        if word.startswith("/"):
            self._reply(self._commands().command(actor, word, rest))
            return True
        try:
            first = shlex.split(line)[0]
        except (ValueError, IndexError):
            first = line
        self.write(f"unknown input {escape(repr(first))}; type `help`")
        return True

    def _press(self, actor: Actor, number: str) -> None:
        with self._lock:
            action, problem = self._button(number)
        if action is None:
            self.write(escape(problem))
            return
        self._reply(self._commands().press(actor, action.action_id, action.value))

    def _commands(self) -> ChatCommands:
        if self.chat is None:
            raise RuntimeError("the console has no chat commands yet")
        return self.chat

    def _button(self, number: str) -> tuple[Action | None, str]:
        """The button `press number` presses, or why there is none."""
        found = self._pressable.get(int(number)) if number.isdigit() else None
        if found is not None:
            subject, action = found
            now = self._current.get(subject, ())
            if int(number) in now:
                return action, ""
            instead = ", ".join(f"[{n}] {self._pressable[n][1].label}" for n in now)
            return None, (
                f"button {number} ({action.label}) was on an earlier version of that message, "
                + (f"which now has {instead}" if instead else "which has no buttons now")
            )
        current = self._numbers_now()
        if not current:
            return None, "there are no buttons to press now"
        if not number.isdigit():
            return None, f"press takes the number of a button, e.g. `press {current[-1]}`"
        return None, f"there is no button {number}; `buttons` lists those you can press"

    def _numbers_now(self) -> list[int]:
        return sorted(n for numbers in self._current.values() for n in numbers)

    def _listed(self) -> list[str]:
        with self._lock:
            listed = []
            for number in self._numbers_now():
                action = self._pressable[number][1]
                listed.append(f"  [{number}] {action.label} ({action.action_id} {action.value})")
        return [escape(line) for line in listed] or ["no buttons"]

    def _reply(self, reply: Reply) -> None:
        document = replies.document(reply.content, terminal.TERMINAL)
        self._show(document, where="only you see this" if reply.ephemeral else None)

    # ── printing ────────────────────────────────────────────────────────────

    def _show(self, document: Document, *, where: str | None, subject: str | None = None) -> None:
        """Print `document` under a rule naming where it appeared, its buttons numbered."""
        with self._lock:
            subject = subject or f"message:{next(self._messages)}"
            shown = [escape(f"── [{where or 'chat'}] ") + "─" * 40, *terminal.lines(document)]
            numbers: list[int] = []
            for action in document.actions:
                number = next(self._numbers)
                self._pressable[number] = (subject, action)
                numbers.append(number)
                shown.append(terminal.button(number, action))
            # a message shown again replaces its buttons (its old numbers become stale)
            if numbers:
                self._current[subject] = tuple(numbers)
            else:
                self._current.pop(subject, None)
            self._write(*shown)

    def write(self, *markups: str) -> None:
        """Print lines of rich markup."""
        with self._lock:
            self._write(*markups)

    def _write(self, *markups: str) -> None:
        for markup in markups:
            self._out.print(markup, emoji=False, highlight=False, soft_wrap=True)
        self._out.file.flush()


def unless_serve_does(job: Callable[[], object], *, leases: Leases) -> Callable[[], None]:
    """`job`, skipped while a `serve` on the same database runs the scheduled jobs (and tells
    its channels): one process checks health, so alerts are neither doubled nor counted twice."""

    def run() -> None:
        try:
            if not leases.held_by_anyone(LEASE):
                job()
        except Exception:
            log.exception("a health check from the console failed")

    return run


def _watch(application: Application, monitoring: Monitoring) -> BackgroundScheduler:
    """Health checks and verification at each environment's intervals, and soak notices, as
    `serve` runs them."""
    gate = partial(unless_serve_does, leases=application.leases)
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC"
    )
    for env in application.config.catalog.environments.values():
        check = gate(partial(monitoring.health.check_environment, env.name))
        scheduler.add_job(check, "interval", seconds=env.health_interval.total_seconds())
        if env.verify is not None:
            verify = gate(partial(application.verifier.verify_environment, env.name))
            scheduler.add_job(verify, "interval", seconds=env.verify.interval.total_seconds())
    scheduler.add_job(gate(monitoring.soak.notify_soaked), "interval", seconds=SOAK_SECONDS)
    scheduler.start()
    return scheduler


def run(
    config: Config, *, user: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> None:
    """Read commands until quit or end of input."""
    out = RichConsole(file=stdout, highlight=False, emoji=False, soft_wrap=True)
    console = Console(None, user=user, out=out)
    application = build(config, for_="console", notifiers=[console])
    try:
        application.recovery.recover()
        console.chat = ChatCommands(application, application.monitoring.acknowledgements)
        watching = _watch(application, application.monitoring)
        application.closers.append(lambda: watching.shutdown(wait=True))
        console.write(f"chatops console — you are {escape(user)}; type `help`")
        interactive = stdin.isatty()
        while True:
            if interactive:
                stdout.write(f"{console.user}> ")
                stdout.flush()
            line = stdin.readline()
            if not line or not console.handle(line):
                break
    finally:
        application.close()
