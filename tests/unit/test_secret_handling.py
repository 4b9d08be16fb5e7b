"""Secrets through a deployment: refused when unmaskable or in build arguments, masked in builds."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

from chatops.domain.deployment import State
from chatops.domain.redact import MASK
from tests.fakes import World, catalog
from tests.unit.test_services import App
from tests.unit.test_services import make_app as make_services_app

SECRET = 's3cr3t-"token"-value'
# how a build step prints it: as a Basic auth header, JSON-escaped, and plain
BASIC = base64.b64encode(f"ci-user:{SECRET}".encode()).decode()
JSON = json.dumps(SECRET)[1:-1]
PRINTS = [f"Authorization: Basic {BASIC}", "config " + json.dumps({"token": SECRET}), SECRET]


def _world(tmp_path: Path, **bot_changes: object) -> World:
    world = World(catalog(), workdir=tmp_path)
    bot = dataclasses.replace(world.catalog.bots["mybot"], **bot_changes)  # type: ignore[arg-type]
    world.catalog = dataclasses.replace(world.catalog, bots={"mybot": bot})
    world.secrets.values = {"API_TOKEN": SECRET}
    return world


def make_app(world: World) -> App:
    app = make_services_app(world)
    app.commit("a" * 40, "first")
    return app


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET, BASIC, JSON) if s in text]


def test_a_secret_too_short_to_mask_fails_the_deployment_naming_it_never_its_value(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    world.secrets.values = {"API_TOKEN": SECRET, "DB_PIN": "hunter2"}
    app = make_app(world)

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert "secret DB_PIN is shorter than 8 characters" in (failed.reason or "")
    assert "hunter2" not in (failed.reason or "")
    assert world.runtime.starts == []
    assert world.builder.builds == []
    assert all("hunter2" not in e.detail for e in world.tables.audit)


def test_build_args_carrying_a_secret_value_fail_before_anything_is_built(tmp_path: Path) -> None:
    app = make_app(_world(tmp_path, build_args={"NPM_TOKEN": SECRET}))

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert "build argument NPM_TOKEN carries the secret API_TOKEN" in (failed.reason or "")
    assert SECRET not in (failed.reason or "")
    assert app.world.builder.builds == []


def test_build_args_named_like_a_secret_variable_fail_too(tmp_path: Path) -> None:
    app = make_app(_world(tmp_path, build_args={"API_TOKEN": "placeholder"}))

    failed = app.deploy()

    assert "build argument API_TOKEN carries the secret API_TOKEN" in (failed.reason or "")


def test_every_form_of_a_secret_in_build_output_is_masked_wherever_it_goes(
    tmp_path: Path,
) -> None:
    """The output callback, the build log file, the stored tail and the failure reason."""
    world = _world(tmp_path)
    world.builder.prints = PRINTS
    world.builder.fail_build.add("registry.test/mybot:v1")
    app = make_app(world)

    failed = app.deploy()

    assert failed.state is State.FAILED
    streamed = "\n".join(world.notifier.lines)
    [log_file] = (tmp_path / "logs" / "mybot").glob("*.log")
    for where, text in {
        "streamed to the channel": streamed,
        "build log file": log_file.read_text(),
        "stored log tail": failed.log_tail,
        "failure reason": failed.reason or "",
        "audit": "\n".join(e.detail for e in world.tables.audit),
    }.items():
        assert _leaks(text) == [], where
    assert "Authorization: Basic Y2ktdXNlcj" in streamed  # the user part is not secret
    assert MASK in failed.log_tail and MASK in (failed.reason or "")


def test_a_successful_build_masks_its_output_too(tmp_path: Path) -> None:
    world = _world(tmp_path)
    world.builder.prints = PRINTS
    app = make_app(world)

    live = app.deploy()

    assert live.state is State.LIVE
    assert _leaks("\n".join(world.notifier.lines)) == []
    assert _leaks(live.log_tail) == []
