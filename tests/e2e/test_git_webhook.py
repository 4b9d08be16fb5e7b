"""POST /webhooks/git: a signed push deploys the head where `auto_deploy` names the branch."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Installation
from tests.e2e.serving import Served

SECRET = "test-git-webhook-secret"


def _push(
    installation: Installation, sha: str, *, branch: str = "main"
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "ref": f"refs/heads/{branch}",
            "after": sha,
            "repository": {"name": installation.bot, "clone_url": str(installation.repo.remote)},
            "pusher": {"name": "ada"},
        }
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
    }


@pytest.fixture
def served(installation: Installation) -> Iterator[Served]:
    installation.document["environments"]["staging"]["auto_deploy"] = "main"
    installation.write_config()
    server = Served(installation.config, {**installation.env, "CHATOPS_GIT_WEBHOOK_SECRET": SECRET})
    server.start()
    try:
        yield server
    finally:
        assert server.stop() == 0, server.output()


def _live_version(installation: Installation, timeout: float = 120) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = installation.json("status", installation.bot)
        if rows and rows[0]["state"] == "live" and not rows[0]["in_progress"]:
            return int(rows[0]["version"])
        time.sleep(0.5)
    return None


def test_a_signed_push_deploys_and_a_rollback_holds_further_pushes(
    installation: Installation, served: Served
) -> None:
    i = installation
    body, headers = _push(i, i.repo.head())

    assert (
        served.post(
            "/webhooks/git", body, {**headers, "X-Hub-Signature-256": "sha256=0"}
        ).status_code
        == 401
    )
    answer = served.post("/webhooks/git", body, headers)

    assert answer.status_code == 202, answer.text
    [started] = answer.json()["deployments"]
    assert (started["bot"], started["env"]) == (i.bot, "staging")
    assert _live_version(i) == 1
    assert i.running_release("staging") == "v1"
    [deploy_event] = [e for e in i.json("audit") if e["action"] == "deploy"]
    assert deploy_event["actor"] == "ada"

    second = i.repo.commit("second")
    assert served.post("/webhooks/git", *_push(i, second)).status_code == 202
    assert _live_version(i) == 2
    rolled = i.run("rollback", i.bot, "staging")
    assert rolled.returncode == 0, rolled.stderr

    third = i.repo.commit("third")
    held = served.post("/webhooks/git", *_push(i, third))

    assert held.status_code == 202
    [refused] = held.json()["deployments"]
    assert "held for automatic deploys" in refused["refused"]
    assert i.running_release("staging") == "v1"
    other_branch = served.post("/webhooks/git", *_push(i, third, branch="feature"))
    assert other_branch.json()["deployments"] == []


def test_pings_and_malformed_pushes(installation: Installation, served: Served) -> None:
    body, headers = _push(installation, installation.repo.head())
    ping = served.post("/webhooks/git", body, {**headers, "X-GitHub-Event": "ping"})
    assert ping.status_code == 200
    bad = b"{not json"
    signature = "sha256=" + hmac.new(SECRET.encode(), bad, hashlib.sha256).hexdigest()
    malformed = served.post("/webhooks/git", bad, {**headers, "X-Hub-Signature-256": signature})
    assert malformed.status_code == 400
