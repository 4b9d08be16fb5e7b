"""The HTTP edge of `chatops serve` in-process: credentials, limits, payload models, dedupe.

Each test states the hole it closes; the whole flows that deploy are in
tests/e2e/test_git_webhook.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatops.errors import ConfigError
from chatops.services.context import Actor
from chatops.services.throttle import DEFAULT_RATE
from tests.integration.edge import (
    ALERT_TOKEN,
    BOT,
    GIT_SECRET,
    METRICS_TOKEN,
    SIGNING_SECRET,
    Edge,
    make_repo,
    serving,
)
from tests.slack import signing
from tests.slack.standin import RESPONSE_URL, SlackStandIn


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def edge(tmp_path: Path, slack: SlackStandIn) -> Iterator[Edge]:
    with serving(tmp_path, slack) as served:
        yield served


def replies(slack: SlackStandIn, name: str) -> list[dict[str, Any]]:
    return [c.body for c in slack.calls(RESPONSE_URL) if c.path == f"/response/{name}"]


# ── Slack: no made-up keys, no unsigned parsing ──────────────────────────────


@pytest.mark.parametrize("blank", ["", "  "])
def test_slack_over_http_is_refused_with_an_empty_signing_secret(
    blank: str, tmp_path: Path, slack: SlackStandIn
) -> None:
    """Guards against serving Slack with a fixed, known key when the secret is set but empty."""
    with (
        pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not") as refused,
        serving(tmp_path, slack, slack_signing_secret=blank),
    ):
        pass
    assert "--socket-mode" in str(refused.value)


def test_socket_mode_needs_no_signing_secret_and_serves_no_slack_over_http(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    with serving(
        tmp_path, slack, socket_mode=True, slack_signing_secret="", slack_app_token="xapp-1"
    ) as edge:
        for key in ("", "socket-mode"):
            body, headers = signing.slash_command(
                "/chatops", "help", user="U1", response_url=slack.response_url(), secret=key
            )
            answer = edge.client.post("/slack/events", content=body, headers=headers)
            assert answer.status_code == 404


def test_an_unsigned_or_malformed_slack_body_is_refused_before_it_is_parsed(edge: Edge) -> None:
    """Guards against unauthenticated junk reaching bolt's parser (it answered 503)."""
    junk = b"payload=%5B1%5D"
    unsigned = edge.client.post(
        "/slack/events",
        content=junk,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    signed = edge.client.post(
        "/slack/events", content=junk, headers=signing.sign(junk, SIGNING_SECRET)
    )

    assert unsigned.status_code == 401
    assert signed.status_code == 400


# ── Slack: one delivery, once, across replicas ───────────────────────────────


def test_a_slack_retry_is_skipped_by_another_replica_too(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    """Guards against replicas each running a retried command (dedupe was per process)."""
    repo = make_repo(tmp_path)
    database = tmp_path / "shared.db"
    body, headers = signing.slash_command(
        "/lock",
        f"{BOT} staging incident",
        user="UDEV",
        response_url=slack.response_url("lock"),
        secret=SIGNING_SECRET,
    )
    with serving(tmp_path / "a", slack, repo, database=database) as first:
        assert first.client.post("/slack/events", content=body, headers=headers).is_success
        slack.wait_for(lambda c: c.path == "/response/lock", method=RESPONSE_URL)
    retried = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    with serving(tmp_path / "b", slack, repo, database=database) as second:
        assert second.client.post("/slack/events", content=body, headers=retried).is_success
        rows = second.rows()
    # leaving `serving` waited for every job the replica had accepted
    assert len(replies(slack, "lock")) == 1
    assert rows["deliveries"] == 1


# ── Slack: a per-person rate limit ───────────────────────────────────────────


def test_a_flood_from_one_person_is_slowed_down_and_audited_once(
    edge: Edge, slack: SlackStandIn
) -> None:
    """Guards against one account flooding chatops with commands and button presses."""
    burst = DEFAULT_RATE.burst

    def command(user: str, n: int) -> str:
        body, headers = signing.slash_command(
            "/chatops",
            "help",
            user=user,
            response_url=slack.response_url(f"{user}-{n}"),
            secret=SIGNING_SECRET,
        )
        answer = edge.client.post("/slack/events", content=body, headers=headers)
        assert answer.status_code == 200
        return answer.text

    acks = [command("UFLOOD", n) for n in range(burst + 5)]
    slowed = [n for n, text in enumerate(acks) if "Slow down" in text]
    body, headers = signing.block_action(
        "approve",
        "1",
        user="UFLOOD",
        channel="C0DEPLOYS",
        message_ts="1.1",
        response_url=slack.response_url("button"),
        secret=SIGNING_SECRET,
    )
    pressed = edge.client.post("/slack/events", content=body, headers=headers)

    assert burst <= slowed[0] <= burst + 1  # a token may refill while the burst is sent
    assert len(slowed) >= 3
    assert pressed.status_code == 200
    reply = slack.wait_for(lambda c: c.path == "/response/button", method=RESPONSE_URL)
    assert "Slow down" in reply.body["text"] and reply.body["response_type"] == "ephemeral"
    assert "Slow down" not in command("UOTHER", 0)
    with edge.application.uow() as uow:
        events = [e for e in uow.audit.list(limit=1000) if e.action == "rate_limit"]
    assert [(e.actor, str(e.outcome)) for e in events] == [("UFLOOD", "refused")]
    for n in slowed:  # nothing ran for a refused command
        assert replies(slack, f"UFLOOD-{n}") == []


# ── /metrics ─────────────────────────────────────────────────────────────────


def test_metrics_need_the_bearer_token_when_one_is_set(edge: Edge) -> None:
    assert edge.client.get("/metrics").status_code == 401
    wrong = edge.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = edge.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert right.status_code == 200 and "chatops_" in right.text


def test_metrics_stay_open_when_no_token_is_set(tmp_path: Path, slack: SlackStandIn) -> None:
    with serving(tmp_path, slack, chatops_metrics_token="") as edge:
        assert edge.client.get("/metrics").status_code == 200


# ── Alertmanager ─────────────────────────────────────────────────────────────


def alertmanager(edge: Edge, alerts: list[Any], **payload: Any) -> Any:
    document = {"version": "4", "status": "firing", "alerts": alerts, **payload}
    return edge.client.post(
        "/alerts/alertmanager",
        content=json.dumps(document),
        headers={"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"},
    )


MALFORMED_ALERTS: list[tuple[list[Any], dict[str, Any], str]] = [
    ([{"labels": {"bot": [BOT], "env": "staging"}}], {}, "alerts.0.labels.bot"),
    ([{"labels": {"bot": {"name": BOT}, "env": "staging"}}], {}, "alerts.0.labels.bot"),
    ([{"labels": {"bot": BOT, "env": 7}}], {}, "alerts.0.labels.env"),
    ([{"labels": [BOT, "staging"]}], {}, "alerts.0.labels"),
    ([{"status": "firing"}], {}, "alerts.0.labels"),
    ([{"labels": {"bot": BOT}, "startsAt": 1}], {}, "alerts.0.startsAt"),
    ([{"labels": {"bot": BOT}, "fingerprint": "f" * 1000}], {}, "alerts.0.fingerprint"),
    ([{"labels": {}}], {"commonLabels": {"bot": [BOT]}}, "commonLabels.bot"),
]


def test_a_malformed_alert_is_a_400_naming_where_never_a_5xx(edge: Edge) -> None:
    """Guards against Alertmanager retrying forever a payload we answered 503."""
    before = edge.rows()
    for alerts, payload, where in MALFORMED_ALERTS:
        answer = alertmanager(edge, alerts, **payload)

        assert answer.status_code == 400, (alerts, answer.text)
        assert where in answer.json()["error"]
    assert edge.rows() == before


def test_an_alert_about_nothing_we_run_is_202_with_the_reason(edge: Edge) -> None:
    answer = alertmanager(edge, [{"labels": {"bot": "ghost", "env": "staging"}}])

    assert answer.status_code == 202
    assert "ghost" in answer.json()["ignored_reasons"][0]


# ── git webhooks: GitLab, delivery ids, unconfigured ─────────────────────────


def gitlab(edge: Edge, *, token: str = GIT_SECRET, event: str = "Push Hook", uuid_: str) -> Any:
    head = edge.repo.head()
    document = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": head,
        "checkout_sha": head,
        "user_username": "grace",
        "project": {
            "path_with_namespace": f"acme/{BOT}",
            "git_http_url": str(edge.repo.remote),
            "git_ssh_url": f"git@gitlab.example.com:acme/{BOT}.git",
        },
    }
    headers = {
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token,
        "X-Gitlab-Event-UUID": uuid_,
        "Content-Type": "application/json",
    }
    return edge.client.post("/webhooks/git", content=json.dumps(document), headers=headers)


def test_a_gitlab_push_is_taken_with_its_token_and_once_per_delivery(edge: Edge) -> None:
    """Guards against GitLab's push events (X-Gitlab-Token) being refused."""
    # a lock keeps the push from building anything: its refusal proves it was understood
    edge.server.application.locks.lock(Actor("UDEV", "cli"), BOT, "staging", reason="test")
    delivery = str(uuid.uuid4())
    before = edge.rows()

    wrong = gitlab(edge, token="guess", uuid_=delivery)
    tag = gitlab(edge, event="Tag Push Hook", uuid_=delivery)
    assert (wrong.status_code, tag.status_code) == (401, 202)
    assert edge.rows() == before
    taken = gitlab(edge, uuid_=delivery)
    again = gitlab(edge, uuid_=delivery)

    assert taken.status_code == 202, taken.text
    [started] = taken.json()["deployments"]
    assert (started["bot"], started["env"]) == (BOT, "staging")
    assert "locked" in started["refused"]
    assert again.status_code == 200 and again.json()["duplicate"] is True
    with edge.application.uow() as uow:
        [refusal] = [e for e in uow.audit.list(limit=100) if e.action == "deploy"]
    assert (refusal.actor, refusal.source) == ("grace", "webhook")


def test_a_github_delivery_is_handled_once(edge: Edge) -> None:
    edge.server.application.locks.lock(Actor("UDEV", "cli"), BOT, "staging", reason="test")
    body, headers = edge.github(edge.push_document(edge.repo.head()), delivery="d-1")

    first = edge.client.post("/webhooks/git", content=body, headers=headers)
    redelivered = edge.client.post("/webhooks/git", content=body, headers=headers)

    assert first.status_code == 202 and "refused" in first.json()["deployments"][0]
    assert redelivered.json() == {"ok": True, "duplicate": True, "deployments": []}


def test_git_webhooks_accept_nothing_without_a_configured_secret(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    with serving(tmp_path, slack, chatops_git_webhook_secret=" ") as edge:
        body, headers = edge.github(edge.push_document(edge.repo.head()))
        unsigned = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
        before = edge.rows()

        assert edge.client.post("/webhooks/git", content=body, headers=headers).status_code == 404
        assert edge.client.post("/webhooks/git", content=body, headers=unsigned).status_code == 404
        assert edge.rows() == before


def test_every_endpoint_refuses_an_oversized_body_with_413(edge: Edge) -> None:
    for path in ("/slack/events", "/alerts/alertmanager", "/webhooks/git", "/metrics"):
        answer = edge.client.post(path, content=b"x" * (26 * 1024 * 1024))
        assert answer.status_code == 413, path


def test_a_push_that_could_not_be_handled_may_be_delivered_again(edge: Edge) -> None:
    """Nothing is lost: a delivery that failed (remote unreachable) is not marked as handled."""
    edge.server.application.locks.lock(Actor("UDEV", "cli"), BOT, "staging", reason="test")
    body, headers = edge.github(edge.push_document(edge.repo.head()), delivery="d-retry")
    hidden = edge.repo.remote.with_name("hidden.git")
    edge.repo.remote.rename(hidden)
    try:
        failed = edge.client.post("/webhooks/git", content=body, headers=headers)
    finally:
        hidden.rename(edge.repo.remote)

    assert failed.status_code == 503
    assert "git could not" in failed.json()["error"]
    retried = edge.client.post("/webhooks/git", content=body, headers=headers)
    assert retried.status_code == 202
    assert "locked" in retried.json()["deployments"][0]["refused"]
