"""Every Slack message about a deployment links to its web page, once `public_url` is set."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatops.config import Settings, load
from chatops.domain.alerts import Alert
from chatops.domain.deployment import Deployment, Kind, State
from chatops.entrypoints.slack import blocks
from chatops.errors import ConfigError
from tests.fakes import World, catalog
from tests.web.story import write_config

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _world(public_url: str | None) -> tuple[World, int, Alert]:
    world = World(catalog=catalog(), public_url=public_url)
    with world.uow() as uow:
        deployment = uow.deployments.add(
            Deployment(
                bot="mybot",
                env="staging",
                kind=Kind.DEPLOY,
                state=State.LIVE,
                requested_by="UDEV",
                requested_at=T0,
                updated_at=T0,
                live_at=T0,
                version=1,
                commit="a" * 40,
            )
        )
        alert = uow.alerts.add(
            Alert(
                bot="mybot",
                env="staging",
                source="chatops",
                fingerprint="health",
                summary="mybot is unhealthy",
                first_seen=T0,
                last_seen=T0,
                deployment_id=deployment.id,
                version=1,
            )
        )
        uow.commit()
    assert deployment.id is not None
    return world, deployment.id, alert


def test_deployment_and_alert_messages_link_to_the_deployment_page() -> None:
    world, deployment_id, alert = _world("https://chatops.example.com")
    services = world.services()

    view = services.views.view(deployment_id)
    message = blocks.deployment_message(view)
    alert_message = blocks.alert_message(services.alert_notices.view(alert))

    url = f"https://chatops.example.com/ui/deployments/{deployment_id}"
    assert view.page_url == url
    assert f"<{url}|details and build log>" in json.dumps(message.blocks, ensure_ascii=False)
    assert f"<{url}|the deployment and its history>" in json.dumps(
        alert_message.blocks, ensure_ascii=False
    )


def test_no_link_without_public_url() -> None:
    world, deployment_id, alert = _world(None)
    services = world.services()

    message = blocks.deployment_message(services.views.view(deployment_id))
    alert_message = blocks.alert_message(services.alert_notices.view(alert))

    assert "/ui/deployments" not in json.dumps(message.blocks)
    assert "/ui/deployments" not in json.dumps(alert_message.blocks)


def test_a_link_cannot_break_out_of_its_mrkdwn() -> None:
    world, deployment_id, _ = _world("https://chatops.example.com")
    view = world.services().views.view(deployment_id)
    odd = dataclasses.replace(view, page_url="https://x.example/a|<!channel>")

    text = json.dumps(blocks.deployment_message(odd).blocks)

    assert "<!channel>" not in text


def test_public_url_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, bots={}, web=None, public_url="https://chatops.example.com/")

    from_file = load(path, settings=Settings())
    from_env = load(path, settings=Settings(chatops_public_url="https://other.example/x"))

    assert from_file.file.public_url == "https://chatops.example.com"
    assert from_env.file.public_url == "https://other.example/x"
    with pytest.raises(ConfigError, match="CHATOPS_PUBLIC_URL: 'javascript:alert' is not an"):
        load(path, settings=Settings(chatops_public_url="javascript:alert"))
    write_config(tmp_path, bots={}, web=None, public_url="ftp://x")
    with pytest.raises(ConfigError, match=r"public_url.*is not an http"):
        load(path, settings=Settings())


@pytest.mark.parametrize(
    ("web", "complaint"),
    [
        ({"auth": "slack"}, "web.team_id: required with `auth: slack`"),
        ({"auth": "password"}, "web.auth"),
        ({"auth": "proxy", "trusted_proxies": ["not-an-ip"]}, "web.trusted_proxies"),
        ({"auth": "proxy", "header": "X-User: admin"}, "web.header"),
        ({"auth": "proxy", "colour": "red"}, "colour"),
    ],
)
def test_web_settings_are_checked(tmp_path: Path, web: dict[str, object], complaint: str) -> None:
    path = write_config(tmp_path, bots={}, web=web, public_url=None)

    with pytest.raises(ConfigError) as refused:
        load(path, settings=Settings())

    assert complaint in refused.value.message
