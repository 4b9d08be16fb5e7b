"""The chat port: how people are told what happens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chatops.domain.deployment import Deployment
from chatops.services.views import AlertView, DeploymentView

__all__ = ["MessageRef", "Notifier"]


@dataclass(frozen=True, slots=True)
class MessageRef:
    channel: str
    ts: str


class Notifier(Protocol):
    """Tells people what happens; failures are the notifier's to log, never a deployment's."""

    def deployment_changed(self, view: DeploymentView) -> None: ...

    def build_output(self, deployment: Deployment, line: str) -> None: ...

    def alert_changed(self, view: AlertView) -> None: ...

    def deployment_soaked(self, view: DeploymentView) -> None:
        """The live deployment has soaked long enough to be promoted (said once)."""
        ...

    def say(self, channel: str | None, text: str) -> None:
        """Tell `channel` a line of plain text (never markup: a chat notifier escapes it)."""
        ...
