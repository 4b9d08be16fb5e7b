"""Push webhooks from GitHub and GitLab: authenticated, then parsed into one Push at the edge.

GitHub signs the body (`X-Hub-Signature-256: sha256=HMAC(secret, body)`); GitLab
sends the secret itself (`X-Gitlab-Token`). Both are compared in constant time
with CHATOPS_GIT_WEBHOOK_SECRET. Each delivery carries an id
(`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`) that the caller deduplicates on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from chatops.entrypoints.payloads import Payload, problems

__all__ = ["Forge", "Push", "authenticate", "delivery_key", "event_of", "parse_push"]

Forge = Literal["github", "gitlab"]
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def _commit_id(value: str) -> str:
    if not _SHA.fullmatch(value):
        raise PydanticCustomError(
            "commit_id", "should be a commit id (40 or 64 lowercase hexadecimal digits)"
        )
    return value


Sha = Annotated[StrictStr, AfterValidator(_commit_id)]
Name = Annotated[StrictStr, Field(max_length=255)]
Text = Annotated[StrictStr, Field(max_length=2048)]
_NO_COMMIT = "0" * 40
_MAX_DELIVERY_ID = 200


@dataclass(frozen=True, slots=True)
class Push:
    """One push, whichever forge sent it: `branch` is None for tags and deleted branches."""

    branch: str | None
    after: str
    urls: frozenset[str]
    full_name: str | None
    pusher: str


class _GitHubRepository(Payload):
    full_name: Text | None = None
    clone_url: Text | None = None
    ssh_url: Text | None = None
    git_url: Text | None = None
    html_url: Text | None = None
    url: Text | None = None


class _GitHubPusher(Payload):
    name: Name | None = None


class _GitHubPush(Payload):
    ref: Text
    after: Sha
    repository: _GitHubRepository
    pusher: _GitHubPusher | None = None
    deleted: StrictBool = False


class _GitLabProject(Payload):
    git_http_url: Text | None = None
    git_ssh_url: Text | None = None
    web_url: Text | None = None
    path_with_namespace: Text | None = None


class _GitLabPush(Payload):
    object_kind: Literal["push"] = "push"
    ref: Text
    after: Sha
    checkout_sha: Sha | None = None
    project: _GitLabProject
    user_username: Name | None = None


def authenticate(headers: Mapping[str, str], body: bytes, secret: str) -> Forge | None:
    """Which forge sent this, if its credentials match `secret`; None when they do not."""
    if "x-gitlab-event" in headers or "x-gitlab-token" in headers:
        given = headers.get("x-gitlab-token", "").encode()
        return "gitlab" if hmac.compare_digest(given, secret.encode()) else None
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = headers.get("x-hub-signature-256", "").encode()
    return "github" if hmac.compare_digest(given, expected.encode()) else None


def event_of(forge: Forge, headers: Mapping[str, str]) -> str:
    """The event's kind: `push` and `ping` matter, the rest is acknowledged and ignored."""
    if forge == "gitlab":
        event = headers.get("x-gitlab-event", "Push Hook")
        return {"Push Hook": "push", "System Hook": "system"}.get(event, event.lower())
    return headers.get("x-github-event", "push")


def delivery_key(forge: Forge, headers: Mapping[str, str]) -> str | None:
    """`github:<X-GitHub-Delivery>` or `gitlab:<X-Gitlab-Event-UUID>`; None when not sent.

    Raises:
        ValueError: the id is too long to be one.
    """
    header = "x-github-delivery" if forge == "github" else "x-gitlab-event-uuid"
    given = headers.get(header, "").strip()
    if not given:
        return None
    if len(given) > _MAX_DELIVERY_ID:
        raise ValueError(f"{header} is longer than {_MAX_DELIVERY_ID} characters")
    return f"{forge}:{given}"


def parse_push(forge: Forge, body: bytes) -> Push:
    """The push a webhook body describes.

    Raises:
        ValueError: not JSON, or not a push event of that forge (the message says where).
    """
    model = _GitHubPush if forge == "github" else _GitLabPush
    try:
        push = model.model_validate_json(body)  # JSON and shape in one pass
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ValueError("the body is not JSON") from None
        raise ValueError(f"not a {forge} push event: {problems(exc, whole='the body')}") from None
    return _github(push) if isinstance(push, _GitHubPush) else _gitlab(push)


def _branch(ref: str, after: str, deleted: bool = False) -> str | None:
    if deleted or after == _NO_COMMIT or not ref.startswith("refs/heads/"):
        return None
    return ref.removeprefix("refs/heads/") or None


def _github(push: _GitHubPush) -> Push:
    repository = push.repository
    urls = (
        repository.clone_url,
        repository.ssh_url,
        repository.git_url,
        repository.html_url,
        repository.url,
    )
    return Push(
        branch=_branch(push.ref, push.after, push.deleted),
        after=push.after,
        urls=frozenset(u for u in urls if u),
        full_name=repository.full_name,
        pusher=(push.pusher.name if push.pusher else None) or "git push",
    )


def _gitlab(push: _GitLabPush) -> Push:
    project = push.project
    after = push.checkout_sha or push.after
    urls = (project.git_http_url, project.git_ssh_url, project.web_url)
    return Push(
        branch=_branch(push.ref, push.after),
        after=after,
        urls=frozenset(u for u in urls if u),
        full_name=project.path_with_namespace,
        pusher=push.user_username or "git push",
    )
