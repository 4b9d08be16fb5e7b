"""Request bodies are bounded before anything reads them: in size per endpoint, and in time.

An ASGI middleware in front of every route. A declared `Content-Length` over the
endpoint's limit is answered 413 at once, before a byte of the body is read; a
chunked body is counted as it streams and cut off with 413 when it passes the
limit; a body that does not arrive in full within `timeout` seconds (a client
trickling it, slowloris-style) is answered 408. Either way the connection is
closed. What passes is handed to the route as one buffered body, so at most one
limit's worth of memory is held per request.

Limits are sized to what each sender needs:

- `/slack/events`: 1 MiB. Slack's payloads are small; the largest, a button press,
  carries the message's blocks (tens of kB).
- `/alerts/alertmanager`: 8 MiB. One call may group many alerts with their labels
  and annotations.
- `/webhooks/git`: 25 MiB. GitHub does not deliver payloads above 25 MB.
- anything else (GET endpoints, unknown paths): 64 KiB.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_LIMIT", "LIMITS", "BodyLimits"]

MiB = 1024 * 1024
LIMITS: Mapping[str, int] = {
    "/slack/events": 1 * MiB,
    "/alerts/alertmanager": 8 * MiB,
    "/webhooks/git": 25 * MiB,
}
DEFAULT_LIMIT = 64 * 1024


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class BodyLimits:
    """Reads each request's body within its limits, then calls `app` with it.

    Args:
        app: the application behind.
        timeout: seconds the whole body may take to arrive.
        limits: bytes allowed per path; `default` for every other path.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        timeout: float,
        limits: Mapping[str, int] = LIMITS,
        default: int = DEFAULT_LIMIT,
    ) -> None:
        self._app = app
        self._timeout = timeout
        self._limits = limits
        self._default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limits.get(scope["path"], self._default)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, f"the body is larger than {limit} bytes, the most taken here")
            return
        try:
            body = await asyncio.wait_for(_read(receive, limit), self._timeout)
        except _TooLarge:
            await _refuse(send, 413, f"the body is larger than {limit} bytes, the most taken here")
            return
        except TimeoutError:
            await _refuse(send, 408, f"the body did not arrive within {self._timeout:g} seconds")
            return
        except _Disconnected:
            return
        await self._app(scope, _replay(body, receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects a malformed length before we are called
    return None


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the buffered body once, then waits for the disconnect."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"ok": False, "error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
