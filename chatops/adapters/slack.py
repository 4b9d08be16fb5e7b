"""Slack Web API adapters: the channel notifier (one message per deployment and per alert,
updated in place) and the directory that expands user groups."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment
from chatops.domain.mrkdwn import escape
from chatops.services.ports import MessageRef, UnitOfWorkFactory
from chatops.services.views import AlertView, DeploymentView

__all__ = ["Rendered", "SlackDirectory", "SlackNotifier", "web_client"]

log = logging.getLogger(__name__)

# (fallback text, Block Kit blocks)
Rendered = tuple[str, list[dict[str, Any]]]


def web_client(token: str, base_url: str | None) -> WebClient:
    """A Web API client; `base_url` (SLACK_API_URL) lets a proxy or test stand-in replace Slack."""
    kwargs: dict[str, Any] = {"token": token}
    if base_url:
        kwargs["base_url"] = base_url if base_url.endswith("/") else base_url + "/"
    client = WebClient(**kwargs)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


class SlackNotifier:
    """Posts each deployment's and alert's message once, then edits it as it changes.

    The message's (channel, ts) is stored with the deployment or alert, so the
    message can be updated from any process and found again from a reaction.
    """

    def __init__(
        self,
        client: WebClient,
        uow: UnitOfWorkFactory,
        *,
        render_deployment: Callable[[DeploymentView], Rendered],
        render_alert: Callable[[AlertView], Rendered],
        render_resolved: Callable[[AlertView], Rendered],
        render_soaked: Callable[[DeploymentView], Rendered],
    ) -> None:
        self._client = client
        self._uow = uow
        self._render_deployment = render_deployment
        self._render_alert = render_alert
        self._render_resolved = render_resolved
        self._render_soaked = render_soaked
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def deployment_changed(self, view: DeploymentView) -> None:
        if view.channel is None or view.deployment.id is None:
            return
        text, blocks = self._render_deployment(view)
        self._post_or_update(f"deployment:{view.deployment.id}", view.channel, text, blocks)

    def build_output(self, deployment: Deployment, line: str) -> None:
        """Build output stays out of the channel (it is in the build log)."""

    def alert_changed(self, view: AlertView) -> None:
        alert = view.alert
        if view.channel is None or alert.id is None:
            return
        text, blocks = self._render_alert(view)
        ref = self._post_or_update(f"alert:{alert.id}", view.channel, text, blocks)
        if ref is not None and alert.state is AlertState.RESOLVED:
            subject = f"alert-resolved:{alert.id}"
            with self._lock(subject):
                if self._get(subject) is None:
                    reply_text, reply_blocks = self._render_resolved(view)
                    posted = self._call(
                        "chat_postMessage",
                        channel=ref.channel,
                        thread_ts=ref.ts,
                        text=reply_text,
                        blocks=reply_blocks,
                    )
                    if posted is not None:
                        self._put(subject, MessageRef(ref.channel, str(posted["ts"])))

    def deployment_soaked(self, view: DeploymentView) -> None:
        if view.channel is None:
            return
        text, blocks = self._render_soaked(view)
        self._call("chat_postMessage", channel=view.channel, text=text, blocks=blocks)

    def say(self, channel: str | None, text: str) -> None:
        """Post plain `text`: what people wrote in it (a lock's reason) stays text."""
        if channel:
            self._call("chat_postMessage", channel=channel, text=escape(text))

    # ── plumbing ─────────────────────────────────────────────────────────

    def _post_or_update(
        self, subject: str, channel: str, text: str, blocks: list[dict[str, Any]]
    ) -> MessageRef | None:
        with self._lock(subject):
            ref = self._get(subject)
            if ref is not None:
                self._call("chat_update", channel=ref.channel, ts=ref.ts, text=text, blocks=blocks)
                return ref
            posted = self._call("chat_postMessage", channel=channel, text=text, blocks=blocks)
            if posted is None:
                return None
            ref = MessageRef(str(posted["channel"]), str(posted["ts"]))
            self._put(subject, ref)
            return ref

    def _lock(self, subject: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(subject, threading.Lock())

    def _get(self, subject: str) -> MessageRef | None:
        with self._uow() as uow:
            return uow.messages.get(subject)

    def _put(self, subject: str, ref: MessageRef) -> None:
        with self._uow() as uow:
            uow.messages.put(subject, ref)
            uow.commit()

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            response = getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            log.warning("Slack %s failed: %s", method, exc.response.get("error"))
            return None
        except OSError as exc:
            log.warning("Slack %s failed: %s", method, exc)
            return None
        return dict(response.data) if isinstance(response.data, dict) else None


class SlackDirectory:
    """Expands Slack user groups (`S…`) to their members, cached for `ttl` seconds."""

    def __init__(self, client: WebClient, *, ttl: float = 60.0) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._guard = threading.Lock()

    def expand(self, entries: Iterable[str]) -> frozenset[str]:
        users: set[str] = set()
        for entry in entries:
            if entry.startswith("S") and entry[1:].isalnum():
                users |= self._members(entry)
            else:
                users.add(entry)
        return frozenset(users)

    def _members(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        with self._guard:
            cached = self._cache.get(group)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group)
            members = frozenset(str(u) for u in response.get("users") or [])
        except (SlackApiError, OSError) as exc:
            log.warning("cannot list the members of user group %s: %s", group, exc)
            # an unknown membership grants nothing; a stale one is better than none
            return cached[1] if cached is not None else frozenset()
        with self._guard:
            self._cache[group] = (now, members)
        return members
