"""The Prometheus adapter against Debian's prometheus, scraping an endpoint the test controls."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.adapters import local_services
from chatops.adapters.prometheus import PrometheusQuery
from chatops.domain.verification import Outcome
from tests.verify.metrics_server import MetricsServer, serving


@pytest.fixture(scope="module")
def metrics() -> Iterator[MetricsServer]:
    with serving() as server:
        server.set(bot_errors_total=0, bot_up=1)
        yield server


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, metrics: MetricsServer) -> Iterator[str]:
    try:
        service = local_services.start_prometheus(
            tmp_path_factory.mktemp("prometheus"), targets=[metrics.target], scrape_seconds=0.5
        )
    except local_services.ServiceUnavailable as exc:
        pytest.fail(f"prometheus could not be started: {exc}")
    try:
        yield service.env["PROMETHEUS"]
    finally:
        service.stop()


def wait_for(prometheus: str, query: str, expected: Outcome, timeout: float = 20) -> Outcome:
    client = PrometheusQuery()
    deadline = time.monotonic() + timeout
    outcome = client.query(prometheus, query, timeout=2)
    while outcome != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        outcome = client.query(prometheus, query, timeout=2)
    return outcome


def test_a_value_the_bot_reports_is_measured_and_follows_it(
    prometheus: str, metrics: MetricsServer
) -> None:
    assert wait_for(prometheus, 'bot_up{job="bots"}', Outcome(1.0)) == Outcome(1.0)
    metrics.set(bot_errors_total=7, bot_up=1)
    assert wait_for(prometheus, "bot_errors_total", Outcome(7.0)) == Outcome(7.0)


def test_no_data_bad_queries_and_several_series(prometheus: str) -> None:
    # the series exist once Prometheus has scraped the target (xdist may run this first)
    assert wait_for(prometheus, 'bot_up{job="bots"}', Outcome(1.0)) == Outcome(1.0)
    client = PrometheusQuery()
    assert client.query(prometheus, 'bot_up{job="nobody"}', timeout=2) == Outcome()
    bad = client.query(prometheus, "sum(rate(", timeout=2)
    assert bad.error is not None and "bad_data" in bad.error, bad
    assert not bad.down  # Prometheus answered: only this query is wrong
    several = client.query(prometheus, '{job="bots"}', timeout=2)
    assert several.error is not None and "aggregate" in several.error, several
    assert client.query(prometheus, "1 + 1", timeout=2) == Outcome(2.0)  # a scalar
    assert client.query(prometheus, "vector(0) / 0", timeout=2) == Outcome()  # NaN: no data


def test_prometheus_down_is_an_error_not_a_crash(tmp_path: Path) -> None:
    port = local_services.free_port()  # nothing listens there
    outcome = PrometheusQuery().query(f"http://127.0.0.1:{port}", "up", timeout=2)
    assert outcome.value is None
    assert outcome.error is not None and "unreachable" in outcome.error
    assert outcome.down
    assert PrometheusQuery().query("file:///etc/passwd", "up", timeout=2).error


def test_a_slow_prometheus_is_given_up_on_after_the_timeout() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accepts and never answers
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        outcome = PrometheusQuery().query(url, "up", timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()
    assert outcome.error is not None and "0.5s" in outcome.error, outcome
    assert outcome.down
    assert elapsed < 2
