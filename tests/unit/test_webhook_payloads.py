"""Push and Alertmanager payloads are pydantic shapes at the edge: what is not the shape
is refused with where and what was expected, never a class name, a pattern or a value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatops.entrypoints.alertmanager import parse_payload
from chatops.entrypoints.webhooks import parse_push

SHA = "a" * 40
INTERNALS = ("_Webhook", "_GitHubPush", "_GitLabPush", "instance of", "[0-9a-f]", "pattern")


def _github(**changes: Any) -> bytes:
    document: dict[str, Any] = {
        "ref": "refs/heads/main",
        "after": SHA,
        "repository": {"full_name": "acme/bot", "clone_url": "https://git.test/acme/bot.git"},
        "pusher": {"name": "grace"},
    }
    document.update(changes)
    return json.dumps(document).encode()


def test_a_github_push_becomes_a_push() -> None:
    push = parse_push("github", _github())

    assert (push.branch, push.after, push.pusher) == ("main", SHA, "grace")
    assert push.urls == {"https://git.test/acme/bot.git"}
    assert parse_push("github", _github(ref="refs/tags/v1")).branch is None
    assert parse_push("github", _github(deleted=True)).branch is None


def test_a_gitlab_push_becomes_a_push() -> None:
    body = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "after": SHA,
        "checkout_sha": "b" * 40,
        "user_username": "grace",
        "project": {"git_http_url": "https://gitlab.test/acme/bot.git"},
    }
    push = parse_push("gitlab", json.dumps(body).encode())

    assert (push.branch, push.after, push.pusher) == ("main", "b" * 40, "grace")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        (b"[1, 2]", "not a github push event: the body: should be an object"),
        (_github(ref=7), "ref: should be text"),
        (_github(after="HEAD"), "after: should be a commit id (40 or 64"),
        (_github(after=SHA + "\n"), "after: should be a commit id"),
        (_github(repository=[1]), "repository: should be an object"),
        (_github(pusher={"name": ["x"]}), "pusher.name: should be text"),
        (_github(deleted="yes"), "deleted: should be true or false"),
        (json.dumps({"after": SHA}).encode(), "ref: missing; repository: missing"),
    ],
)
def test_a_push_that_is_not_the_shape_says_where_and_what(body: bytes, said: str) -> None:
    with pytest.raises(ValueError, match=r".") as refused:
        parse_push("github", body)

    assert said in str(refused.value)
    assert not any(word in str(refused.value) for word in INTERNALS), refused.value


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ([], "the payload: should be an object"),
        ({"alerts": "x"}, "alerts: should be a list"),
        ({"alerts": [{"labels": {"bot": 1}}]}, "alerts.0.labels.bot: should be text"),
        ({"alerts": [{}]}, "alerts.0.labels: missing"),
        ({"version": "3", "alerts": []}, "version: Input should be '4'"),
    ],
)
def test_an_alertmanager_payload_that_is_not_the_shape_says_where(payload: Any, said: str) -> None:
    with pytest.raises(ValueError, match=r".") as refused:
        parse_payload(payload)

    assert said in str(refused.value)
    assert not any(word in str(refused.value) for word in INTERNALS), refused.value


def test_only_the_first_problems_are_listed() -> None:
    alerts = [{"labels": {"bot": n}} for n in range(8)]

    with pytest.raises(ValueError, match=r"\(and 3 more\)$"):
        parse_payload({"alerts": alerts})
