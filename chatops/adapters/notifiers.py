"""Notifiers that are not Slack: fan-out to several, and the terminal of the CLI."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from chatops.domain.deployment import Deployment, State
from chatops.services.ports import Notifier
from chatops.services.views import AlertView, DeploymentView

__all__ = ["FanOut", "TerminalNotifier"]

log = logging.getLogger(__name__)

_STYLE = {
    State.LIVE: "bold green",
    State.FAILED: "bold red",
    State.REJECTED: "red",
    State.EXPIRED: "yellow",
    State.SUPERSEDED: "dim",
    State.PENDING_APPROVAL: "yellow",
}


class FanOut:
    """Tells every notifier; one failing does not keep the others from hearing."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self._notifiers = list(notifiers)

    def add(self, notifier: Notifier) -> None:
        self._notifiers.append(notifier)

    def deployment_changed(self, view: DeploymentView) -> None:
        for notifier in self._notifiers:
            try:
                notifier.deployment_changed(view)
            except Exception:
                log.exception(
                    "%s failed on deployment #%s", type(notifier).__name__, view.deployment.id
                )

    def build_output(self, deployment: Deployment, line: str) -> None:
        for notifier in self._notifiers:
            try:
                notifier.build_output(deployment, line)
            except Exception:
                log.exception("%s failed on build output", type(notifier).__name__)

    def alert_changed(self, view: AlertView) -> None:
        for notifier in self._notifiers:
            try:
                notifier.alert_changed(view)
            except Exception:
                log.exception("%s failed on alert #%s", type(notifier).__name__, view.alert.id)

    def deployment_soaked(self, view: DeploymentView) -> None:
        for notifier in self._notifiers:
            try:
                notifier.deployment_soaked(view)
            except Exception:
                log.exception(
                    "%s failed on soak of #%s", type(notifier).__name__, view.deployment.id
                )

    def say(self, channel: str | None, text: str) -> None:
        for notifier in self._notifiers:
            try:
                notifier.say(channel, text)
            except Exception:
                log.exception("%s failed to say something", type(notifier).__name__)


class TerminalNotifier:
    """Progress of the CLI's own deployments on stderr: one line per state, build output dimmed."""

    def __init__(self, console: Console, *, build_output: bool = True) -> None:
        self._console = console
        self._build_output = build_output
        self._last: dict[int, State] = {}

    def deployment_changed(self, view: DeploymentView) -> None:
        deployment = view.deployment
        if deployment.id is None or self._last.get(deployment.id) is deployment.state:
            return
        self._last[deployment.id] = deployment.state
        version = f" v{deployment.version}" if deployment.version else ""
        commit = f" ({deployment.commit[:8]})" if deployment.commit else ""
        style = _STYLE.get(deployment.state, "cyan")
        line = (
            f"#{deployment.id} {deployment.kind} {escape(deployment.bot)}{version}{commit} → "
            f"{escape(deployment.env)}: [{style}]{deployment.state}[/]"
        )
        if deployment.reason and deployment.state is not State.LIVE:
            line += f" — {escape(deployment.reason)}"
        self._console.print(line)

    def build_output(self, deployment: Deployment, line: str) -> None:
        if self._build_output and line.strip():
            self._console.print(f"  [dim]{escape(line)}[/]", highlight=False)

    def alert_changed(self, view: AlertView) -> None:
        alert = view.alert
        self._console.print(
            f"alert #{alert.id} {alert.bot}/{alert.env}: {alert.state} — {escape(alert.summary)}"
        )

    def deployment_soaked(self, view: DeploymentView) -> None:
        deployment = view.deployment
        where = f" → promote to {view.promote_to}" if view.promote_to else ""
        self._console.print(
            f"#{deployment.id} {escape(deployment.bot)} v{deployment.version} has soaked in "
            f"{escape(deployment.env)}{where}"
        )

    def say(self, channel: str | None, text: str) -> None:
        self._console.print(escape(text))
