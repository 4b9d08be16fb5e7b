"""HttpHealthProbe against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chatops.adapters.health_probe import HttpHealthProbe
from chatops.adapters.local_services import free_port
from chatops.domain.catalog import HealthKind, HealthSpec
from chatops.domain.health import Health


class Handler(BaseHTTPRequestHandler):
    """Answers GET /<status> with that status; /slow answers after 3 s."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(3)
            status = 200
        else:
            status = int(self.path.strip("/"))
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def http(url: str) -> HealthSpec:
    return HealthSpec(kind=HealthKind.HTTP, url=url)


@pytest.mark.parametrize("status", [200, 204, 302])
def test_2xx_and_3xx_are_healthy(server: str, status: int) -> None:
    health, detail = HttpHealthProbe().check(http(f"{server}/{status}"))

    assert health is Health.HEALTHY
    assert str(status) in detail


@pytest.mark.parametrize("status", [404, 500, 503])
def test_other_statuses_are_unhealthy_with_the_code(server: str, status: int) -> None:
    health, detail = HttpHealthProbe().check(http(f"{server}/{status}"))

    assert health is Health.UNHEALTHY
    assert f"HTTP {status}" in detail


def test_connection_refused_is_unhealthy() -> None:
    url = f"http://127.0.0.1:{free_port()}/healthz"

    health, detail = HttpHealthProbe().check(http(url))

    assert health is Health.UNHEALTHY
    assert "refused" in detail.lower()
    assert "\n" not in detail


def test_a_slow_answer_times_out_as_unhealthy(server: str) -> None:
    started = time.monotonic()

    health, detail = HttpHealthProbe(timeout=0.5).check(http(f"{server}/slow"))

    assert health is Health.UNHEALTHY
    assert "timed out" in detail
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1:8080/healthz", "", None]
)
def test_only_http_urls_are_probed(url: str | None) -> None:
    health, detail = HttpHealthProbe().check(HealthSpec(kind=HealthKind.HTTP, url=url))

    assert health is Health.UNHEALTHY
    assert "not an http(s) URL" in detail
