"""Slack Web API adapters: the outbox that queues messages for slack_sender.py to deliver,
the directory that expands user groups, and the clients."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from chatops.adapters.db.outbox import Outgoing
from chatops.adapters.db.uow import SqlUnitOfWork
from chatops.adapters.system import SystemClock
from chatops.services.ports import Clock

__all__ = ["SlackDirectory", "SlackOutbox", "delivery_client", "web_client"]

log = logging.getLogger(__name__)

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


class SlackOutbox:
    """Queues rendered messages in the database, for the sender to deliver; returns at once.

    A message for a subject that still waits replaces it (only the newest is sent);
    the sender posts a subject's message once and edits it afterwards, and keeps its
    (channel, ts) with the subject, so any process can edit it and a reaction finds
    the subject again.

    Args:
        uow: units of work on the database holding the outbox.
        wake: called after something was queued (the sender's `wake`).
        remember: keep the subjects queued here (`queued`), for a CLI's flush.
    """

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        *,
        wake: Callable[[], None] | None = None,
        clock: Clock | None = None,
        remember: bool = False,
    ) -> None:
        self._uow = uow
        self._wake = wake
        self._clock = clock or SystemClock()
        self._remember = remember
        self._queued: set[str] = set()
        self._guard = threading.Lock()

    @property
    def queued(self) -> frozenset[str]:
        """The subjects queued here (when it remembers them)."""
        with self._guard:
            return frozenset(self._queued)

    def queue(self, *messages: Outgoing) -> None:
        """Queue `messages` in one transaction.

        Raises:
            StoreError: the database cannot be reached.
        """
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
