"""serve's drain: what the HTTP edge answers while draining, and the grace it waits within."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from chatops.config import Settings
from chatops.entrypoints.drain import SHUTTING_DOWN, Drain, DrainGate, wait_idle
from chatops.entrypoints.serve import HTTP_GRACE_SECONDS, SHUTDOWN_FLUSH_SECONDS

ROOT = Path(__file__).resolve().parents[2]
PRE_STOP_SECONDS = 5  # deploy/kubernetes: the preStop sleep before SIGTERM


class _Client:
    """Requests to an ASGI app in this process, one event loop each."""

    def __init__(self, app: Starlette) -> None:
        self._app = app

    def _send(self, method: str, path: str, **options: object) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, **options)  # type: ignore[arg-type]

        return asyncio.run(go())

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def post(self, path: str, **options: object) -> httpx.Response:
        return self._send("POST", path, **options)


def _app(drain: Drain) -> tuple[_Client, list[str]]:
    reached: list[str] = []

    async def answer(request: Request) -> PlainTextResponse:
        reached.append(request.url.path)
        return PlainTextResponse("served")

    paths = ["/slack/events", "/alerts/alertmanager", "/webhooks/git"]
    routes = [Route(path, answer, methods=["POST"]) for path in paths]
    routes += [Route(path, answer, methods=["GET"]) for path in ("/healthz", "/readyz", "/metrics")]
    app = Starlette(routes=routes)
    app.add_middleware(DrainGate, drain=drain)
    return _Client(app), reached


SLASH = urlencode({"command": "/deploy", "text": "mybot staging", "user_id": "UDEV"})
CLICK = urlencode({"payload": '{"type": "block_actions"}'})
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_before_the_drain_everything_is_served() -> None:
    client, reached = _app(Drain())

    assert client.post("/slack/events", content=SLASH, headers=FORM).text == "served"
    assert client.get("/readyz").status_code == 200
    assert reached == ["/slack/events", "/readyz"]


def test_while_draining_no_new_work_is_taken_and_a_slash_command_is_told_why() -> None:
    drain = Drain()
    client, reached = _app(drain)
    assert drain.begin() and not drain.begin()

    slash = client.post("/slack/events", content=SLASH, headers=FORM)
    assert slash.status_code == 200  # Slack shows a 200 answer to whoever typed the command
    assert slash.json() == {"response_type": "ephemeral", "text": f":hourglass: {SHUTTING_DOWN}."}
    for path, body in [
        ("/slack/events", CLICK),
        ("/slack/events", '{"type": "event_callback"}'),
        ("/slack/events", "command=" + "x" * 100_000),  # too big to be a slash command
        ("/alerts/alertmanager", '{"alerts": []}'),
        ("/webhooks/git", "{}"),
    ]:
        refused = client.post(path, content=body, headers=FORM)
        assert refused.status_code == 503, path
        assert refused.headers["retry-after"] == "60"
        assert refused.json() == {"ok": False, "error": SHUTTING_DOWN}
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["ready"]) == (503, False)
    assert client.get("/healthz").text == "served"  # alive: not to be killed while draining
    assert client.get("/metrics").text == "served"
    assert reached == ["/healthz", "/metrics"]


def test_wait_idle_returns_when_nothing_runs_or_the_grace_is_over() -> None:
    running = [2]

    def finish() -> None:
        time.sleep(0.3)
        running[0] = 0

    threading.Thread(target=finish).start()
    started = time.monotonic()
    assert wait_idle(lambda: running[0], 10) == 0
    assert time.monotonic() - started < 5

    started = time.monotonic()
    assert wait_idle(lambda: 1, 0.3) == 1
    assert 0.25 < time.monotonic() - started < 2


def _grace(path: str, pattern: str) -> int:
    found = re.search(pattern, (ROOT / path).read_text(), re.MULTILINE)
    assert found, f"no stop grace in {path}"
    return int(found.group(1))


def test_the_drain_fits_in_every_shipped_stop_timeout() -> None:
    graces = {
        "compose": _grace("deploy/compose.yaml", r"^\s+stop_grace_period:\s*(\d+)s\s*$"),
        "systemd": _grace("deploy/systemd/chatops.service", r"^TimeoutStopSec=(\d+)s?\s*$"),
        "kubernetes": _grace(
            "deploy/kubernetes/deployment.yaml", r"^\s+terminationGracePeriodSeconds:\s*(\d+)\s*$"
        ),
    }
    drain = Settings().chatops_drain_seconds

    assert len(set(graces.values())) == 1, graces
    assert drain + PRE_STOP_SECONDS < min(graces.values())
    # what the drain spends: running deployments, then HTTP in flight, then the last messages
    assert drain - HTTP_GRACE_SECONDS - SHUTDOWN_FLUSH_SECONDS > 0


@pytest.mark.parametrize("bad", ["0", "5", "9999", "soon"])
def test_a_drain_outside_its_bounds_is_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    from chatops.config import load_settings
    from chatops.errors import ConfigError

    monkeypatch.setenv("CHATOPS_DRAIN_SECONDS", bad)
    with pytest.raises(ConfigError, match="CHATOPS_DRAIN_SECONDS"):
        load_settings()
