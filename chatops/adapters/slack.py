"""Slack Web API adapters: the channel notifier (which queues messages in the outbox for
slack_sender.py to deliver), the directory that expands user groups, and the clients."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from chatops.adapters.db.outbox import OutboxKind, Outgoing
from chatops.adapters.db.uow import SqlUnitOfWork
from chatops.adapters.system import SystemClock
from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment
from chatops.services.ports import Clock
from chatops.services.views import AlertView, DeploymentView

__all__ = ["Rendered", "SlackDirectory", "SlackNotifier", "delivery_client", "web_client"]

log = logging.getLogger(__name__)

# (fallback text, Block Kit blocks)
Rendered = tuple[str, list[dict[str, Any]]]

DELIVERY_TIMEOUT_SECONDS = 10


def _base_url(base_url: str | None) -> dict[str, Any]:
    if not base_url:
        return {}
    return {"base_url": base_url if base_url.endswith("/") else base_url + "/"}


def web_client(token: str, base_url: str | None) -> WebClient:
    """The client of requests someone waits for (bolt's, user groups): one 429 retry.

    `base_url` (SLACK_API_URL) lets a proxy or test stand-in replace Slack.
    """
    client = WebClient(token=token, **_base_url(base_url))
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    return client


def delivery_client(
    token: str, base_url: str | None, *, timeout: int = DELIVERY_TIMEOUT_SECONDS
) -> WebClient:
    """The outbox sender's client: slack_sdk retries a refused connection once; rate limits,
    server errors and timeouts are the sender's to pace and retry."""
    return WebClient(token=token, timeout=timeout, **_base_url(base_url))


class SlackNotifier:
    """Queues each deployment's and alert's message, rendered, in the outbox; returns at once.

    The sender posts a subject's message once and then edits it as it changes;
    its (channel, ts) is stored with the subject, so any process can edit it and
    a reaction finds the deployment again.

    Args:
        uow: units of work on the database holding the outbox.
        wake: called after something was queued (the sender's `wake`).
        remember: keep the subjects queued here (`queued`), for a CLI's flush.
    """

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        *,
        render_deployment: Callable[[DeploymentView], Rendered],
        render_alert: Callable[[AlertView], Rendered],
        render_resolved: Callable[[AlertView], Rendered],
        render_soaked: Callable[[DeploymentView], Rendered],
        wake: Callable[[], None] | None = None,
        clock: Clock | None = None,
        remember: bool = False,
    ) -> None:
        self._uow = uow
        self._render_deployment = render_deployment
        self._render_alert = render_alert
        self._render_resolved = render_resolved
        self._render_soaked = render_soaked
        self._wake = wake
        self._clock = clock or SystemClock()
        self._remember = remember
        self._queued: set[str] = set()
        self._guard = threading.Lock()

    @property
    def queued(self) -> frozenset[str]:
        """The subjects queued by this notifier (when it remembers them)."""
        with self._guard:
            return frozenset(self._queued)

    def deployment_changed(self, view: DeploymentView) -> None:
        if view.channel is None or view.deployment.id is None:
            return
        text, blocks = self._render_deployment(view)
        subject = f"deployment:{view.deployment.id}"
        self._queue(Outgoing(subject, OutboxKind.MESSAGE, view.channel, text, blocks))

    def build_output(self, deployment: Deployment, line: str) -> None:
        """Build output stays out of the channel (it is in the build log)."""

    def alert_changed(self, view: AlertView) -> None:
        alert = view.alert
        if view.channel is None or alert.id is None:
            return
        subject = f"alert:{alert.id}"
        text, blocks = self._render_alert(view)
        messages = [Outgoing(subject, OutboxKind.MESSAGE, view.channel, text, blocks)]
        if alert.state is AlertState.RESOLVED:
            reply_text, reply_blocks = self._render_resolved(view)
            messages.append(
                Outgoing(
                    f"alert-resolved:{alert.id}",
                    OutboxKind.REPLY,
                    view.channel,
                    reply_text,
                    reply_blocks,
                    thread_of=subject,
                )
            )
        self._queue(*messages)

    def deployment_soaked(self, view: DeploymentView) -> None:
        if view.channel is None:
            return
        text, blocks = self._render_soaked(view)
        subject = f"soaked:{view.deployment.id}:{uuid.uuid4().hex[:12]}"
        self._queue(Outgoing(subject, OutboxKind.POST, view.channel, text, blocks))

    def say(self, channel: str | None, text: str) -> None:
        if channel:
            self._queue(Outgoing(f"say:{uuid.uuid4().hex}", OutboxKind.POST, channel, text, []))

    def _queue(self, *messages: Outgoing) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            queued = [m.subject for m in messages if uow.outbox.put(m, now=now)]
            uow.commit()
        if self._remember:
            with self._guard:
                self._queued.update(queued)
        if queued and self._wake is not None:
            self._wake()


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
