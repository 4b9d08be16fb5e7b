"""Request bodies are bounded before a route reads them: by size (413) and by time (408)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from chatops.entrypoints.limits import BodyLimits


class Recorder:
    """An ASGI app that records the body it was handed."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(
    app: Any, chunks: list[bytes], *, headers: list[tuple[bytes, bytes]] | None = None,
    path: str = "/webhooks/git", delay: float = 0.0,
) -> tuple[int, dict[str, Any], int]:  # fmt: skip
    """(status, JSON body, how many chunks the app pulled) of one POST."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if delay:
            await asyncio.sleep(delay)
        pulled += 1
        more = pulled < len(chunks)
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers or []}
    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, (json.loads(body) if status != 200 else {}), pulled


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read() -> None:
    """Guards against reading a 400 MB body before refusing it."""
    inner = Recorder()
    app = BodyLimits(inner, timeout=5, limits={"/webhooks/git": 1000})

    status, answer, pulled = call(
        app, [b"x" * 10], headers=[(b"content-length", str(400 * 1024 * 1024).encode())]
    )

    assert (status, pulled, inner.bodies) == (413, 0, [])
    assert "1000 bytes" in answer["error"]


def test_a_streamed_body_is_counted_and_cut_off_at_the_limit() -> None:
    inner = Recorder()
    app = BodyLimits(inner, timeout=5, limits={"/webhooks/git": 1000})

    status, _, pulled = call(app, [b"x" * 300] * 100)

    assert (status, pulled, inner.bodies) == (413, 4, [])


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    inner = Recorder()
    app = BodyLimits(inner, timeout=5, limits={"/webhooks/git": 1000})

    status, _, _ = call(app, [b"a" * 400, b"b" * 600])

    assert status == 200
    assert inner.bodies == [b"a" * 400 + b"b" * 600]


def test_other_paths_get_the_small_default_limit() -> None:
    inner = Recorder()
    app = BodyLimits(inner, timeout=5, default=100)

    assert call(app, [b"x" * 101], path="/metrics")[0] == 413
    assert call(app, [b"x" * 100], path="/metrics")[0] == 200


@pytest.mark.timeout(10)
def test_a_trickled_body_is_cut_off_after_the_timeout() -> None:
    """Guards against a client holding a request open by sending its body a byte at a time."""
    inner = Recorder()
    app = BodyLimits(inner, timeout=0.3)

    status, answer, pulled = call(app, [b"x"] * 1000, delay=0.05)

    assert status == 408 and inner.bodies == []
    assert pulled < 20
    assert "0.3 seconds" in answer["error"]
