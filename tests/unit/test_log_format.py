"""CHATOPS_LOG_FORMAT=json: one JSON object a line, naming the request and the deployment."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from chatops.entrypoints.logs import JsonFormatter, RequestIds, configure
from chatops.services.logcontext import bound, carried

log = logging.getLogger("chatops.test")


@pytest.fixture
def lines() -> object:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        log.removeHandler(handler)


def _read(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_names_the_ids_bound_where_it_was_written(lines: io.StringIO) -> None:
    log.info("outside")
    with bound(deployment_id=12):
        log.warning("building %s", 'mybot "v3"\nnext line')
        with bound(request_id="r-1"):
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                log.exception("failed")
    log.info("after")

    outside, building, failed, after = _read(lines)
    assert "deployment_id" not in outside and "request_id" not in outside
    assert building["message"] == 'building mybot "v3"\nnext line'
    assert (building["level"], building["logger"], building["deployment_id"]) == (
        "warning",
        "chatops.test",
        12,
    )
    assert (failed["deployment_id"], failed["request_id"]) == (12, "r-1")
    assert "RuntimeError: boom" in str(failed["exception"])
    assert "deployment_id" not in after
    assert str(building["time"]).endswith("+00:00")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text or json"):
        configure("xml")


def test_every_request_gets_an_id_its_lines_and_its_answer_carry(lines: io.StringIO) -> None:
    async def answer(request: Request) -> PlainTextResponse:
        log.info("handling")
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/x", answer)])
    app.add_middleware(RequestIds)

    async def get(headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/x", headers=headers)

    given = asyncio.run(get({"X-Request-Id": "abc-123"}))
    made = asyncio.run(get({"X-Request-Id": 'evil"\nid'}))  # not sane: a new one is made

    assert given.headers["x-request-id"] == "abc-123"
    assert made.headers["x-request-id"] not in ("", 'evil"\nid')
    assert [line["request_id"] for line in _read(lines)] == [
        "abc-123",
        made.headers["x-request-id"],
    ]


def test_work_done_later_on_a_pool_names_the_request_that_asked_for_it(
    lines: io.StringIO,
) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, bound(request_id="slack-1"):
        pool.submit(carried(lambda: log.info("carried"))).result()
        pool.submit(lambda: log.info("not carried")).result()

    carried_line, plain_line = _read(lines)
    assert carried_line["request_id"] == "slack-1"
    assert "request_id" not in plain_line  # a pool thread knows nothing of it otherwise
