"""Slack, when SLACK_BOT_TOKEN is set: the Web API client, the user directory, and the
channel (its notifier, the outbox it queues messages in, and the sender delivering them).

The channel's messages are rendered by the entrypoints (`ChannelNotifier`), which
hand `build` the notifier to put in front of the outbox; the outbox's message types
are named here for it, so that entrypoints import no adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient

from chatops.adapters.db.outbox import OutboxKind, Outgoing
from chatops.adapters.db.uow import SqlUnitOfWork
from chatops.adapters.slack import SlackDirectory, SlackOutbox, delivery_client, web_client
from chatops.adapters.slack_sender import DeliveryMetrics, Pacing, SlackSender, describe_waiting
from chatops.config import Settings
from chatops.services.ports import Directory, Notifier

__all__ = [
    "ChannelRenderer",
    "OutboxKind",
    "Outgoing",
    "SlackChannel",
    "SlackOutbox",
    "SlackSender",
    "channel_for",
    "describe_waiting",
    "directory_for",
    "slack_client",
]

# What renders channel messages into the outbox: `entrypoints.slack.notifier.ChannelNotifier`.
ChannelRenderer = Callable[[SlackOutbox], Notifier]


def slack_client(settings: Settings) -> WebClient | None:
    """The Web API client of bolt and the directory, or None when SLACK_BOT_TOKEN is not set."""
    if settings.slack_bot_token is None:
        return None
    return web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def directory_for(client: WebClient | None) -> Directory | None:
    return SlackDirectory(client) if client is not None else None


@dataclass(frozen=True, slots=True)
class SlackChannel:
    """The channel notifier, the outbox it queues messages in, and the sender delivering them."""

    notifier: Notifier
    outbox: SlackOutbox
    sender: SlackSender


def channel_for(
    settings: Settings,
    uow: Callable[[], SqlUnitOfWork],
    *,
    render: ChannelRenderer,
    owner: str,
    metrics: DeliveryMetrics | None = None,
    pacing: Pacing | None = None,
    remember: bool = False,
) -> SlackChannel | None:
    """The channel notifier and its sender, or None without SLACK_BOT_TOKEN.

    The sender starts when the first message is queued, or with `sender.start()`.
    """
    if settings.slack_bot_token is None:
        return None
    client = delivery_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    sender = SlackSender(client, uow, owner=owner, metrics=metrics, pacing=pacing)
    outbox = SlackOutbox(uow, wake=sender.wake, remember=remember)
    return SlackChannel(render(outbox), outbox, sender)
