"""The Slack app manifest in deploy/ declares what chatops answers: commands, buttons, events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chatops.domain.commands import COMMANDS

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"
EVENTS_PATH = "/slack/events"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    document = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_every_command_chatops_parses_is_declared_once(manifest: dict[str, Any]) -> None:
    declared = [c["command"] for c in manifest["features"]["slash_commands"]]

    assert sorted(declared) == sorted(COMMANDS)


def test_each_command_has_a_description_a_usage_hint_and_unescaped_text(
    manifest: dict[str, Any],
) -> None:
    for command in manifest["features"]["slash_commands"]:
        assert command["description"].strip(), command["command"]
        assert len(command["description"]) <= 2000, command["command"]
        assert command["usage_hint"].strip(), command["command"]
        assert command["should_escape"] is False, command["command"]


def test_every_request_url_is_the_one_events_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls += [
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    ]

    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls), urls
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False


def test_the_bot_has_exactly_the_scopes_chatops_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]

    assert sorted(scopes) == sorted(
        ["commands", "chat:write", "chat:write.public", "usergroups:read", "reactions:read"]
    )


def test_reactions_are_subscribed_so_a_check_mark_can_approve(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["reaction_added"]


def test_the_app_has_a_name_and_a_bot_user(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    assert info["name"] == "chatops"
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert manifest["features"]["bot_user"]["display_name"]
