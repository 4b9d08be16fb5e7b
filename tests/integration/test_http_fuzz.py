"""Bad input at every endpoint of the real Starlette app: always 2xx or 4xx, never 5xx.

hypothesis sends wrong types, missing fields, huge values, unknown and other
deployments' ids, non-JSON and wrong content types. No answer may be a 5xx or
carry a traceback, and a refused request (4xx) may change nothing in the
database. One installation serves the whole module, with one deployment live.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, Kind, State
from tests.integration.edge import ALERT_TOKEN, BOT, GIT_SECRET, SIGNING_SECRET, Edge, serving
from tests.slack import signing
from tests.slack.standin import SlackStandIn

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_text = st.text(min_size=300, max_size=3000) | st.just("x" * 100_000)
texts = st.text(max_size=30) | huge_text
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "",
    ]
)
bodies = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("fuzz")
    with SlackStandIn() as slack, serving(root, slack) as served:
        now = datetime.now(UTC)
        with served.application.uow() as uow:
            uow.deployments.add(
                Deployment(
                    bot=BOT,
                    env="staging",
                    kind=Kind.DEPLOY,
                    state=State.LIVE,
                    requested_by="UDEV",
                    requested_at=now,
                    updated_at=now,
                    ref="main",
                    commit=served.repo.head(),
                    version=1,
                    live_at=now,
                    healthy_since=now,
                )
            )
            uow.commit()
        yield served


def check(edge: Edge, answer: httpx.Response, before: dict[str, int] | None) -> None:
    """2xx or 4xx, no traceback; a 4xx left the database as it was `before` (None: not known,
    since signed Slack requests work on in the background)."""
    assert answer.status_code < 500, answer.text
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    if answer.status_code >= 400 and before is not None:
        assert edge.rows() == before, f"{answer.status_code} changed the database"


# ── Alertmanager ─────────────────────────────────────────────────────────────

label_values = st.sampled_from([BOT, "staging", "prod", "ghost"]) | texts | json_values
labels = st.dictionaries(
    st.sampled_from(["bot", "env", "alertname", "chatops_instance"]) | st.text(max_size=10),
    label_values,
    max_size=5,
)
alert = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["firing", "resolved", "odd"]) | json_values,
        "labels": labels | json_values,
        "annotations": st.dictionaries(st.sampled_from(["summary", "description"]), texts)
        | json_values,
        "startsAt": st.datetimes().map(datetime.isoformat)
        | st.sampled_from(["0001-01-01T00:00:00Z", "2026-11-27T09:00:00Z", "yesterday"])
        | json_values,
        "generatorURL": texts | json_values,
        "fingerprint": st.text(alphabet="0123456789abcdef", max_size=20) | texts | json_values,
    },
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["4", "3", 4]) | json_values,
        "status": st.sampled_from(["firing", "resolved"]) | json_values,
        "commonLabels": labels | json_values,
        "alerts": st.lists(alert, max_size=4) | json_values,
    },
)


@FUZZ
@given(payload=payloads, token=st.sampled_from([ALERT_TOKEN, "", "wrong"]))
def test_alertmanager_payloads(edge: Edge, payload: dict[str, Any], token: str) -> None:
    before = edge.rows()
    answer = edge.client.post(
        "/alerts/alertmanager",
        content=json.dumps(payload),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    check(edge, answer, before)
    if token != ALERT_TOKEN:
        assert answer.status_code == 401


@FUZZ
@given(body=bodies, content_type=content_types)
def test_alertmanager_bodies(edge: Edge, body: bytes, content_type: str) -> None:
    before = edge.rows()
    answer = edge.client.post(
        "/alerts/alertmanager",
        content=body,
        headers={"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": content_type},
    )
    check(edge, answer, before)


# ── git webhooks ─────────────────────────────────────────────────────────────

shas = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40) | texts | json_values
repositories = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ("full_name", "clone_url", "ssh_url", "html_url", "url"), texts | json_values
    ),
)
github_pushes = st.fixed_dictionaries(
    {},
    optional={
        "ref": st.sampled_from(["refs/heads/main", "refs/tags/v1", "refs/heads/x"]) | texts,
        "after": shas,
        "repository": repositories | json_values,
        "pusher": st.fixed_dictionaries({}, optional={"name": texts | json_values}) | json_values,
        "deleted": st.booleans() | json_values,
    },
)
gitlab_pushes = st.fixed_dictionaries(
    {},
    optional={
        "object_kind": st.sampled_from(["push", "tag_push"]) | json_values,
        "ref": st.sampled_from(["refs/heads/main", "refs/heads/x"]) | texts,
        "after": shas,
        "checkout_sha": shas,
        "user_username": texts | json_values,
        "project": st.fixed_dictionaries(
            {},
            optional=dict.fromkeys(
                ("git_http_url", "git_ssh_url", "path_with_namespace"), texts | json_values
            ),
        )
        | json_values,
    },
)
events = st.sampled_from(["push", "ping", "issues", "Push Hook", "Tag Push Hook", ""])
delivery_ids = st.none() | st.uuids().map(str) | st.text(alphabet="abc-", max_size=300)


@FUZZ
@given(
    document=github_pushes | gitlab_pushes | json_values,
    forge=st.sampled_from(["github", "gitlab"]),
    event=events,
    delivery=delivery_ids,
    authentic=st.booleans(),
)
def test_git_push_payloads(
    edge: Edge, document: Any, forge: str, event: str, delivery: str | None, authentic: bool
) -> None:
    body = json.dumps(document).encode()
    if forge == "github":
        _, headers = edge.github(None, event=event)
        headers["X-Hub-Signature-256"] = (
            edge.github(document, event=event)[1]["X-Hub-Signature-256"]
            if authentic
            else "sha256=00"
        )
        if delivery is not None:
            headers["X-GitHub-Delivery"] = delivery
    else:
        headers = {
            "X-Gitlab-Event": event,
            "X-Gitlab-Token": GIT_SECRET if authentic else "guess",
            "Content-Type": "application/json",
        }
        if delivery is not None:
            headers["X-Gitlab-Event-UUID"] = delivery
    before = edge.rows()
    answer = edge.client.post("/webhooks/git", content=body, headers=headers)
    check(edge, answer, before)
    if not authentic:
        assert answer.status_code == 401


@FUZZ
@given(body=bodies, content_type=content_types, signed=st.booleans())
def test_git_bodies(edge: Edge, body: bytes, content_type: str, signed: bool) -> None:
    _, headers = edge.github(None)
    if signed:
        import hashlib
        import hmac

        digest = hmac.new(GIT_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    headers["Content-Type"] = content_type
    before = edge.rows()
    answer = edge.client.post("/webhooks/git", content=body, headers=headers)
    check(edge, answer, before)


# ── Slack ────────────────────────────────────────────────────────────────────


@FUZZ
@given(
    body=bodies,
    content_type=content_types,
    timestamp=st.sampled_from(["", "abc", "0", "99999999999999999999"]) | st.text(max_size=5),
    signature=st.sampled_from(["", "v0=00", "v1=abc"]) | st.text(max_size=10),
)
def test_unsigned_slack_requests_change_nothing(
    edge: Edge, body: bytes, content_type: str, timestamp: str, signature: str
) -> None:
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp.encode("ascii", "replace").decode(),
        "X-Slack-Signature": signature.encode("ascii", "replace").decode(),
    }
    before = edge.rows()
    answer = edge.client.post("/slack/events", content=body, headers=headers)
    check(edge, answer, before)
    assert answer.status_code == 401


@FUZZ
@given(
    body=bodies,
    content_type=content_types,
)
def test_signed_slack_bodies_that_are_not_slack_payloads(
    edge: Edge, body: bytes, content_type: str
) -> None:
    headers = signing.sign(body, SIGNING_SECRET, content_type=content_type or None)
    answer = edge.client.post("/slack/events", content=body, headers=headers)
    check(edge, answer, None)


commands = st.sampled_from(
    [
        *("/deploy", "/promote", "/rollback", "/releases", "/status", "/logs", "/lock"),
        *("/unlock", "/chatops", "/nope"),
    ]
)
ids = st.sampled_from(["1", "2", "0", "-1", "999999999999999999999", "1e3", "", "#1"]) | texts


@FUZZ
@given(
    command=commands,
    text=st.sampled_from([f"{BOT} staging", f"{BOT} prod v1", "ghost staging"]) | texts,
    user=st.sampled_from(["UDEV", "ULEAD", "UADMIN"]) | st.text(min_size=1, max_size=12),
)
def test_signed_slash_commands(edge: Edge, command: str, text: str, user: str) -> None:
    body, headers = signing.slash_command(
        command,
        text,
        user=user,
        response_url=edge.slack.response_url("fuzz"),
        secret=SIGNING_SECRET,
    )
    answer = edge.client.post("/slack/events", content=body, headers=headers)
    check(edge, answer, None)
    assert answer.status_code in (200, 404)  # bolt answers 404 to a command it has no listener for


@FUZZ
@given(
    action=st.sampled_from(["promote", "approve", "reject", "rollback", "ack_alert", "nope"]),
    value=ids,
    user=st.sampled_from(["UDEV", "ULEAD", "UADMIN", "USTRANGER"]),
)
def test_signed_button_presses(edge: Edge, action: str, value: str, user: str) -> None:
    body, headers = signing.block_action(
        action,
        value,
        user=user,
        channel="C0DEPLOYS",
        message_ts="1.000001",
        response_url=edge.slack.response_url("fuzz"),
        secret=SIGNING_SECRET,
    )
    answer = edge.client.post("/slack/events", content=body, headers=headers)
    check(edge, answer, None)
    assert answer.status_code in (200, 404)


# ── the rest ─────────────────────────────────────────────────────────────────


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.sampled_from(["/healthz", "/metrics", "/nope", "/slack/events", "/webhooks/git"]),
    body=bodies,
    authorization=st.sampled_from(["", "Bearer ", "Bearer x", "Basic eA=="]),
)
def test_any_method_on_any_path(
    edge: Edge, method: str, path: str, body: bytes, authorization: str
) -> None:
    before = edge.rows()
    answer = edge.client.request(
        method, path, content=body, headers={"Authorization": authorization}
    )
    check(edge, answer, before)


def test_nothing_the_fuzzing_started_is_left_unfinished(edge: Edge) -> None:
    """Signed commands may have started deployments (they fail: there is no engine here);
    each of them ends, and what was live stays live."""

    def running() -> list[Deployment]:
        with edge.application.uow() as uow:
            return uow.deployments.in_state(IN_PROGRESS_STATES)

    deadline = time.monotonic() + 120
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running() == []
    with edge.application.uow() as uow:
        live = uow.deployments.live(BOT, "staging")
    assert live is not None and live.version == 1
