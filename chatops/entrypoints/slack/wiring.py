"""Connects chatops to Slack when tokens are configured: clients, directory, notifier and sender."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from chatops.adapters.db.uow import SqlUnitOfWork
from chatops.adapters.slack import SlackDirectory, SlackNotifier, delivery_client, web_client
from chatops.adapters.slack_sender import DeliveryMetrics, Pacing, SlackSender
from chatops.config import Settings
from chatops.entrypoints.slack import blocks
from chatops.services.ports import Directory
from chatops.services.views import AlertView, DeploymentView

__all__ = ["SlackChannel", "channel_for", "directory_for", "slack_client"]

log = logging.getLogger(__name__)


def slack_client(settings: Settings) -> WebClient | None:
    """The Web API client of bolt and the directory, or None when SLACK_BOT_TOKEN is not set."""
    if settings.slack_bot_token is None:
        return None
    return web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def directory_for(client: WebClient | None) -> Directory | None:
    return SlackDirectory(client) if client is not None else None


def _render(message: blocks.Message) -> tuple[str, list[dict[str, Any]]]:
    return message.text, message.blocks


@dataclass(frozen=True, slots=True)
class SlackChannel:
    """The channel notifier, queuing rendered messages, and the sender delivering them."""

    notifier: SlackNotifier
    sender: SlackSender


def channel_for(
    settings: Settings,
    uow: Callable[[], SqlUnitOfWork],
    *,
    owner: str,
    metrics: DeliveryMetrics | None = None,
    pacing: Pacing | None = None,
    remember: bool = False,
) -> SlackChannel | None:
    """The channel notifier (rendering with slack/blocks.py) and its sender; None without a token.

    The sender starts when the first message is queued, or with `sender.start()`.
    """
    if settings.slack_bot_token is None:
        return None
    client = delivery_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    sender = SlackSender(client, uow, owner=owner, metrics=metrics, pacing=pacing)

    def deployment(view: DeploymentView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.deployment_message(view))

    def alert(view: AlertView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.alert_message(view))

    def resolved(view: AlertView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.alert_resolved_reply(view))

    def soaked(view: DeploymentView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.soaked_message(view))

    notifier = SlackNotifier(
        uow,
        render_deployment=deployment,
        render_alert=alert,
        render_resolved=resolved,
        render_soaked=soaked,
        wake=sender.wake,
        remember=remember,
    )
    return SlackChannel(notifier, sender)
