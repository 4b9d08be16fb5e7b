"""`chatops serve` with secrets as operators give them: empty values, and NAME_FILE mounts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chatops.adapters.db import schema
from tests.e2e.serving import BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack import signing
from tests.slack.standin import RESPONSE_URL, SlackStandIn

pytestmark = pytest.mark.slow


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "chatops.yaml"
    document = {
        "database_url": "sqlite:///chatops.db",
        "workdir": "work",
        "environments": {"staging": {"deployers": ["*"]}},
    }
    path.write_text(yaml.safe_dump(document))
    schema.upgrade(f"sqlite:///{tmp_path / 'chatops.db'}")
    return path


def _environment(slack: SlackStandIn, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
    return {**env, "SLACK_API_URL": slack.base_url, "PYTHONWARNINGS": "ignore", **variables}


def test_serve_refuses_to_start_slack_over_http_with_an_empty_signing_secret(
    config: Path, slack: SlackStandIn
) -> None:
    """Guards against compose's empty `${SLACK_SIGNING_SECRET}` serving Slack with a known key."""
    env = _environment(slack, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET="")
    process = subprocess.Popen(
        [sys.executable, "-m", "chatops", "--config", str(config), "serve"],
        env={**env, "CHATOPS_HTTP_PORT": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # it started serving: that is the failure
            process.kill()
            process.communicate()

    assert process.returncode == 2, stderr
    assert "SLACK_SIGNING_SECRET is not" in stderr
    assert "--socket-mode" in stderr


def test_serve_reads_the_signing_secret_from_a_mounted_file(
    config: Path, slack: SlackStandIn, tmp_path: Path
) -> None:
    secret_file = tmp_path / "signing-secret"
    secret_file.write_text(SIGNING_SECRET + "\n")
    env = _environment(
        slack,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="",
        SLACK_SIGNING_SECRET_FILE=str(secret_file),
    )
    server = Served(config, env).start()
    try:
        forged = signing.slash_command(
            "/chatops",
            "help",
            user="U1",
            response_url=slack.response_url("x"),
            secret="socket-mode",
        )
        signed = signing.slash_command(
            "/chatops",
            "help",
            user="U1",
            response_url=slack.response_url("ok"),
            secret=SIGNING_SECRET,
        )

        assert server.post("/slack/events", *forged).status_code == 401
        assert server.post("/slack/events", *signed).status_code == 200
        slack.wait_for(lambda c: c.path == "/response/ok", method=RESPONSE_URL, timeout=30)
    finally:
        assert server.stop() == 0, server.output()
