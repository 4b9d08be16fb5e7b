"""Instances: the names a non-default instance makes, its config key, and alerts for others."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from chatops.config import ConfigFile, Settings, read_config_file
from chatops.domain.names import env_tag, image_name, release_tag, unit_name
from chatops.errors import ConfigError
from chatops.services.alerts import IncomingAlert
from chatops.services.context import Actor
from tests.fakes import World, catalog


@pytest.mark.parametrize("instance", [None, "default"])
def test_the_default_instance_makes_the_names_it_always_made(instance: str | None) -> None:
    assert unit_name("mybot", "prod", instance) == "mybot-prod"
    assert release_tag("mybot", 3, instance) == "mybot/v3"
    assert env_tag("mybot", "prod", instance) == "mybot/prod"
    assert image_name("reg.test:5000/", "mybot", 3, instance) == "reg.test:5000/mybot:v3"
    assert image_name(None, "mybot", 3, instance) == "mybot:v3"


def test_another_instance_prefixes_every_name_it_makes() -> None:
    assert unit_name("mybot", "prod", "demo") == "demo-mybot-prod"
    assert release_tag("mybot", 3, "demo") == "demo/mybot/v3"
    assert env_tag("mybot", "prod", "demo") == "demo/mybot/prod"
    assert image_name("reg.test:5000", "mybot", 3, "demo") == "reg.test:5000/demo/mybot:v3"
    assert image_name(None, "mybot", 3, "demo") == "demo/mybot:v3"


def _load(tmp_path: Path, text: str) -> ConfigFile:
    path = tmp_path / "chatops.yaml"
    path.write_text(textwrap.dedent(text))
    return read_config_file(path, settings=Settings())


def test_the_instance_is_default_unless_given(tmp_path: Path) -> None:
    assert _load(tmp_path, "environments: {prod: {}}\n").catalog.instance == "default"
    given = _load(tmp_path, "instance: demo\nenvironments: {prod: {}}\n")
    assert given.catalog.instance == "demo"


@pytest.mark.parametrize("bad", ["Demo", "de mo", "-demo", "demo/x", "", "a" * 64])
def test_an_instance_that_is_no_name_is_a_config_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"instance: {bad!r}\nenvironments: {{prod: {{}}}}\n")
    assert "instance:" in caught.value.message


def test_colliding_names_name_the_instance_prefixed_unit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(
            tmp_path,
            """\
            instance: demo
            environments: {prod: {}, api-prod: {}}
            bots: {pay-api: {repo: /r}, pay: {repo: /r}}
            """,
        )
    assert "would run as the same container or service `demo-pay-api-prod`" in (
        caught.value.message
    )


def _alert(**labels: str) -> IncomingAlert:
    return IncomingAlert(
        status="firing",
        bot="mybot",
        env="staging",
        fingerprint="4f1c9e0a2b3d5e6f",
        summary="mybot answers slowly",
        labels={"alertname": "SlowReplies", "bot": "mybot", "env": "staging", **labels},
    )


@pytest.mark.parametrize(
    ("instance", "label", "opened"),
    [
        ("default", None, 1),
        ("default", "default", 1),
        ("default", "demo", 0),
        ("demo", "demo", 1),
        ("demo", "default", 0),
        ("demo", None, 1),  # an alert that names no instance is for whoever runs the bot
    ],
)
def test_alerts_labelled_for_another_instance_are_ignored(
    instance: str, label: str | None, opened: int
) -> None:
    world = World(dataclasses.replace(catalog(), instance=instance))
    services = world.services()
    requests = services.requests
    world.source.add_commit("mybot", "main", "a" * 40)
    requests.deploy(Actor("UDEV"), "mybot", "staging")

    labels = {} if label is None else {"chatops_instance": label}
    intake = services.monitoring.intake
    result = intake.ingest_alertmanager([_alert(**labels)])

    assert (result.opened, result.ignored) == (opened, 1 - opened)
    assert len(world.tables.alerts) == opened
    if not opened:
        assert f"chatops_instance={label!r}" in result.reasons[0]
        assert f"({instance!r})" in result.reasons[0]


def test_a_swarm_service_name_longer_than_swarm_allows_is_a_config_error(tmp_path: Path) -> None:
    bot, env = "b" * 30, "e" * 20
    text = f"instance: {'i' * 20}\nenvironments: {{{env}: {{runtime: swarm}}}}\n"
    text += f"bots: {{{bot}: {{repo: /r}}}}\n"
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert f"bots.{bot}: the Swarm service of {bot} in {env}" in caught.value.message
    assert "longer than the 63 characters Swarm allows" in caught.value.message
    # the same names on the docker runtime, or without the instance, are fine
    assert _load(tmp_path, text.replace("runtime: swarm", "runtime: docker")).catalog
    assert _load(tmp_path, text.replace("i" * 20, "default")).catalog


def test_config_check_names_the_instance(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chatops.entrypoints.cli import app

    config = tmp_path / "chatops.yaml"
    config.write_text("instance: demo\nenvironments: {prod: {}}\n")
    runner = CliRunner()

    shown = runner.invoke(app, ["--config", str(config), "config", "check"])
    as_json = runner.invoke(app, ["--config", str(config), "config", "check", "--json"])

    assert shown.exit_code == 0, shown.output
    assert "instance: demo (containers and services demo-<bot>-<env>)" in shown.output
    assert json.loads(as_json.output)["instance"] == "demo"
