"""POST /webhooks/git through a real `chatops serve`: a signed push converges the environment
that follows the branch; replays never go backwards; a push during a deployment follows it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from chatops.adapters.db.uow import SqlStore
from chatops.domain.deployment import Deployment
from chatops.entrypoints.sample import DOCKERFILE
from tests.e2e.conftest import Installation
from tests.e2e.serving import Served

SECRET = "test-git-webhook-secret"
SLOW_BUILD = DOCKERFILE.replace("COPY www /www", "RUN sleep 5\nCOPY www /www")


def _push(
    installation: Installation, sha: str, *, branch: str = "main", delivery: str | None = None
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
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def _deployments(installation: Installation) -> list[Deployment]:
    """The bot's deployments in staging, newest first, read from the database."""
    store = SqlStore(f"sqlite:///{installation.path / 'chatops.db'}")
    try:
        with store.uow() as uow:
            return uow.deployments.history(installation.bot, "staging")
    finally:
        store.dispose()


def _live_commit(installation: Installation, commit: str, timeout: float = 120) -> Deployment:
    """The staging deployment once `commit` is live there and nothing runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = _deployments(installation)
        if history and history[0].commit == commit and history[0].state == "live":
            return history[0]
        time.sleep(0.2)
    raise AssertionError(f"{commit[:12]} did not go live: {_deployments(installation)}")


@pytest.fixture
def served(installation: Installation) -> Iterator[Served]:
    installation.document["environments"]["staging"]["auto_deploy"] = "main"
    installation.write_config()
    env = {
        **installation.env,
        "CHATOPS_GIT_WEBHOOK_SECRET": SECRET,
        "CHATOPS_HTTP_BODY_TIMEOUT_SECONDS": "1",
    }
    server = Served(installation.config, env)
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
    second_push = _push(i, second)
    assert served.post("/webhooks/git", *second_push).status_code == 202
    assert _live_version(i) == 2
    # a replay of the first push (GitHub's Redeliver, or an attacker's copy) deploys nothing
    replayed = served.post("/webhooks/git", body, {**headers, "X-GitHub-Delivery": "replay"})
    [skipped] = replayed.json()["deployments"]
    assert "deployed already" in skipped["skipped"], replayed.text
    redelivered = served.post("/webhooks/git", *second_push)
    assert redelivered.json()["duplicate"] is True
    assert len(_deployments(i)) == 2
    assert i.running_release("staging") == "v2"
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


def test_pings_junk_and_bodies_too_big_or_too_slow(
    installation: Installation, served: Served
) -> None:
    body, headers = _push(installation, installation.repo.head())
    ping = served.post("/webhooks/git", body, {**headers, "X-GitHub-Event": "ping"})
    assert ping.status_code == 200
    bad = b"{not json"
    signature = "sha256=" + hmac.new(SECRET.encode(), bad, hashlib.sha256).hexdigest()
    malformed = served.post("/webhooks/git", bad, {**headers, "X-Hub-Signature-256": signature})
    assert malformed.status_code == 400

    # a 400 MB POST is refused before its body is sent (it used to take ~900 MB, then 401)
    oversized = _raw(served, b"Content-Length: 419430400\r\n\r\n")
    assert oversized.startswith(b"HTTP/1.1 413 "), oversized

    # a body that stalls after its first byte (slowloris) is cut off after the body timeout
    started = time.monotonic()
    stalled = _raw(served, b"Content-Length: 100\r\n\r\n{")
    assert stalled.startswith(b"HTTP/1.1 408 "), stalled
    assert time.monotonic() - started < 5


def _raw(served: Served, rest: bytes) -> bytes:
    """The answer to a POST that sends its headers and then no more than `rest`."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as client:
        client.sendall(b"POST /webhooks/git HTTP/1.1\r\nHost: chatops\r\n" + rest)
        return client.recv(4096)


def test_pushes_during_a_deployment_deploy_the_newest_head_after_it_even_across_a_restart(
    installation: Installation,
) -> None:
    """Guards against a push that arrives while staging is busy being dropped."""
    i = installation
    i.document["environments"]["staging"]["auto_deploy"] = "main"
    i.write_config()
    env = {**i.env, "CHATOPS_GIT_WEBHOOK_SECRET": SECRET}
    slow = i.repo.commit("slow to build", files={"Dockerfile": SLOW_BUILD})
    server = Served(i.config, env).start()
    try:
        [first] = server.post("/webhooks/git", *_push(i, slow)).json()["deployments"]
        second = i.repo.commit("second")
        [waiting] = server.post("/webhooks/git", *_push(i, second)).json()["deployments"]
        third = i.repo.commit("third")
        [still_waiting] = server.post("/webhooks/git", *_push(i, third)).json()["deployments"]
    finally:
        assert server.stop() == 0, server.output()  # lets the running deployment finish

    assert (
        waiting
        == still_waiting
        == {
            "bot": i.bot,
            "env": "staging",
            "waiting_for": first["deployment_id"],
        }
    )
    assert _deployments(i)[0].commit == slow
    restarted = Served(i.config, env).start()
    try:
        live = _live_commit(i, third)
    finally:
        assert restarted.stop() == 0, restarted.output()

    assert [d.commit for d in _deployments(i)] == [third, slow]
    assert live.requested_by == "ada"
