"""Stopping `serve` gracefully: after SIGTERM no new work is taken while the running
deployments finish, for at most a grace period; what is still running then is left to
the next start's recovery (which fails it and restores what ran before).

While draining, the HTTP edge answers every POST (Slack, Alertmanager, git webhooks)
with 503 and `Retry-After`, except a Slack slash command, which gets an answer the
person who typed it reads; `/readyz` says 503, so a load balancer sends the next
request to another replica. `/healthz` and `/metrics` answer as before.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

__all__ = ["SHUTTING_DOWN", "Drain", "DrainGate", "wait_idle"]

SHUTTING_DOWN = "chatops is shutting down: try again in a minute"
RETRY_AFTER_SECONDS = 60
_SLASH_BODY_LIMIT = 64 * 1024  # a slash command's form is a few hundred bytes
_BODY_SECONDS = 5.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Drain:
    """Whether `serve` is draining; set once, by the first SIGTERM (or `Server.stop`)."""

    def __init__(self) -> None:
        self._started = threading.Event()
        self._guard = threading.Lock()

    @property
    def draining(self) -> bool:
        return self._started.is_set()

    def begin(self) -> bool:
        """Start draining; True only for the call that started it."""
        with self._guard:
            if self._started.is_set():
                return False
            self._started.set()
            return True


def wait_idle(running: Callable[[], int], seconds: float, *, poll: float = 0.1) -> int:
    """Wait up to `seconds` until `running()` is 0; return how many still run."""
    deadline = time.monotonic() + max(0.0, seconds)
    left = running()
    while left and time.monotonic() < deadline:
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        left = running()
    return left


class DrainGate:
    """ASGI middleware that refuses new work while `drain` is draining."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method"), scope.get("path")
        if method == "POST":
            if path == "/slack/events" and await _is_slash_command(receive):
                # Slack shows a slash command's 200 answer to whoever typed it (only to them)
                answer = {"response_type": "ephemeral", "text": f":hourglass: {SHUTTING_DOWN}."}
                await _respond(send, 200, answer)
                return
            await _respond(send, 503, {"ok": False, "error": SHUTTING_DOWN}, retry=True)
            return
        if path == "/readyz":
            await _respond(send, 503, {"ready": False, "draining": SHUTTING_DOWN}, retry=True)
            return
        await self.app(scope, receive, send)


async def _is_slash_command(receive: Receive) -> bool:
    """Whether the request's body is a slash command's form (`command=/deploy&…`)."""
    try:
        body = await asyncio.wait_for(_read(receive), timeout=_BODY_SECONDS)
    except TimeoutError:
        return False
    if body is None:
        return False
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return "command" in form and "payload" not in form


async def _read(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > _SLASH_BODY_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: dict[str, Any], *, retry: bool = False) -> None:
    content = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if retry:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
