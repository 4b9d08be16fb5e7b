"""Errors a person can act on: config mistakes with their lines, durations, engine hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatops.config import read_config_file
from chatops.domain.deployment import State
from chatops.errors import ConfigError, EngineUnreachable, RuntimeFailure
from chatops.services.context import Actor
from tests.unit.test_services import App, make_app

GOOD = """\
environments:
  staging:
    health_interval_seconds: 10m
    approval_ttl_seconds: 90s
  prod:
    promote_from: staging
    soak_seconds: 2h
    deployers: ["*"]
bots:
  mybot:
    repo: https://git.example.com/acme/mybot.git
    health_timeout_seconds: 1m30s
"""


def _read(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    from chatops.config import load_settings

    path = tmp_path / "chatops.yaml"
    path.write_text(text)
    return read_config_file(path, settings=load_settings(env_file=tmp_path / "none.env"))


def test_durations_may_be_written_with_units(tmp_path: Path) -> None:
    file = _read(tmp_path, GOOD)
    staging, prod = file.catalog.environments["staging"], file.catalog.environments["prod"]
    assert staging.health_interval.total_seconds() == 600
    assert staging.approval_ttl.total_seconds() == 90
    assert prod.soak.total_seconds() == 7200
    assert file.catalog.bots["mybot"].targets["prod"].health_timeout.total_seconds() == 90


def test_config_mistakes_name_the_line_the_key_path_and_what_is_allowed(tmp_path: Path) -> None:
    text = GOOD.replace("soak_seconds: 2h", "soak_seconds: two hours").replace(
        "health_timeout_seconds: 1m30s", "health_timeout_seconds: 90\n    replicas: many"
    )
    with pytest.raises(ConfigError) as bad:
        _read(tmp_path, text)
    lines = bad.value.message.splitlines()[1:]
    assert lines[0] == (
        "  line 7: environments.prod.soak_seconds: must be a number of seconds or a duration "
        "such as 90s, 10m, 2h, 1d (not 'two hours')"
    )
    assert lines[1] == "  line 13: bots.mybot.replicas: must be a whole number (not 'many')"
    assert len(lines) == 2
    assert "Input should be" not in bad.value.message


def test_a_wrong_type_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        _read(tmp_path, GOOD.replace("promote_from: staging", "promote_from: [staging]"))
    assert bad.value.message.splitlines()[1] == (
        "  line 6: environments.prod.promote_from: must be text (quote it if it looks like "
        "something else) (not ['staging'])"
    )


def test_an_engine_out_of_reach_at_deploy_says_how_to_get_one() -> None:
    app: App = make_app()
    app.commit("a" * 40)

    def unreachable(spec: object) -> object:
        raise RuntimeFailure(
            "cannot reach the Docker Engine at unix:///nowhere.sock",
            hint="start Docker there, or point DOCKER_HOST at a running engine",
        )

    app.world.runtime.start = unreachable  # type: ignore[method-assign]
    failed = app.requests.deploy(Actor("UDEV"), "mybot", "staging")
    assert failed.state is State.FAILED
    assert failed.reason == (
        "cannot reach the Docker Engine at unix:///nowhere.sock — "
        "start Docker there, or point DOCKER_HOST at a running engine"
    )


def test_an_engine_out_of_reach_names_the_address_tried() -> None:
    from chatops.adapters.docker_client import engine_address

    assert engine_address("tcp://docker.internal:2376", {"DOCKER_HOST": "unix:///x.sock"}) == (
        "tcp://docker.internal:2376"
    )
    assert engine_address(None, {"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}) == (
        "unix:///run/user/1000/docker.sock (from DOCKER_HOST)"
    )
    for environ in ({}, {"DOCKER_HOST": ""}):
        assert engine_address(None, environ) == (
            "unix:///var/run/docker.sock (the default socket; DOCKER_HOST is not set)"
        )


def test_connecting_without_docker_host_says_which_socket_it_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatops.adapters.docker_client import connect

    nowhere = f"unix://{tmp_path}/nowhere.sock"
    monkeypatch.setenv("DOCKER_HOST", nowhere)
    with pytest.raises(EngineUnreachable) as caught:  # (a RuntimeFailure): waited for, retried
        connect(None, timeout=5)
    assert caught.value.message.startswith(
        f"cannot reach the Docker Engine at {nowhere} (from DOCKER_HOST): "
    )
    assert "default socket" not in caught.value.message
