"""Connects chatops to Slack when tokens are configured: client, directory and channel notifier."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from chatops.adapters.slack import SlackDirectory, SlackNotifier, web_client
from chatops.config import Settings
from chatops.entrypoints.slack import blocks
from chatops.services.ports import Directory, UnitOfWorkFactory
from chatops.services.views import AlertView, DeploymentView

__all__ = ["directory_for", "notifier_for", "slack_client"]

log = logging.getLogger(__name__)


def slack_client(settings: Settings) -> WebClient | None:
    """The Web API client, or None when SLACK_BOT_TOKEN is not set."""
    if settings.slack_bot_token is None:
        return None
    return web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def directory_for(client: WebClient | None) -> Directory | None:
    return SlackDirectory(client) if client is not None else None


def _render(message: blocks.Message) -> tuple[str, list[dict[str, Any]]]:
    return message.text, message.blocks


def notifier_for(client: WebClient, uow: UnitOfWorkFactory) -> SlackNotifier:
    """The channel notifier, rendering with slack/blocks.py."""

    def deployment(view: DeploymentView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.deployment_message(view))

    def alert(view: AlertView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.alert_message(view))

    def resolved(view: AlertView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.alert_resolved_reply(view))

    def soaked(view: DeploymentView) -> tuple[str, list[dict[str, Any]]]:
        return _render(blocks.soaked_message(view))

    return SlackNotifier(
        client,
        uow,
        render_deployment=deployment,
        render_alert=alert,
        render_resolved=resolved,
        render_soaked=soaked,
    )
