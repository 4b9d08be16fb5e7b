"""The channel notifier: each change rendered with blocks.py and queued in the Slack outbox.

One message per subject: `deployment:<id>` and `alert:<id>` are posted once and
edited in place, `alert-resolved:<id>` answers in its alert's thread, soak
notices and plain words are new messages every time.
"""

from __future__ import annotations

import uuid

from chatops.bootstrap.slack import OutboxKind, Outgoing, SlackOutbox
from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment
from chatops.domain.mrkdwn import escape
from chatops.entrypoints.slack import blocks
from chatops.services.views import AlertView, DeploymentView

__all__ = ["ChannelNotifier", "deployment_subject"]


def deployment_subject(deployment_id: int) -> str:
    return f"deployment:{deployment_id}"


class ChannelNotifier:
    """Implements the Notifier port for Slack channels; returns as soon as it is queued."""

    def __init__(self, outbox: SlackOutbox) -> None:
        self._outbox = outbox

    def deployment_changed(self, view: DeploymentView) -> None:
        if view.channel is None or view.deployment.id is None:
            return
        message = blocks.deployment_message(view)
        self._outbox.queue(
            Outgoing(
                deployment_subject(view.deployment.id),
                OutboxKind.MESSAGE,
                view.channel,
                message.text,
                message.blocks,
            )
        )

    def build_output(self, deployment: Deployment, line: str) -> None:
        """Build output stays out of the channel (it is in the build log)."""

    def alert_changed(self, view: AlertView) -> None:
        alert = view.alert
        if view.channel is None or alert.id is None:
            return
        subject = f"alert:{alert.id}"
        message = blocks.alert_message(view)
        messages = [
            Outgoing(subject, OutboxKind.MESSAGE, view.channel, message.text, message.blocks)
        ]
        if alert.state is AlertState.RESOLVED:
            reply = blocks.alert_resolved_reply(view)
            messages.append(
                Outgoing(
                    f"alert-resolved:{alert.id}",
                    OutboxKind.REPLY,
                    view.channel,
                    reply.text,
                    reply.blocks,
                    thread_of=subject,
                )
            )
        self._outbox.queue(*messages)

    def deployment_soaked(self, view: DeploymentView) -> None:
        if view.channel is None:
            return
        message = blocks.soaked_message(view)
        subject = f"soaked:{view.deployment.id}:{uuid.uuid4().hex[:12]}"
        self._outbox.queue(
            Outgoing(subject, OutboxKind.POST, view.channel, message.text, message.blocks)
        )

    def say(self, channel: str | None, text: str) -> None:
        """Post plain `text`: what people wrote in it (a lock's reason) stays text."""
        if channel:
            subject = f"say:{uuid.uuid4().hex}"
            self._outbox.queue(Outgoing(subject, OutboxKind.POST, channel, escape(text), []))
