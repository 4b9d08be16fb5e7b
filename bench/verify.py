"""What metric verification costs, and how soon it lets a clean release through.

Debian's prometheus scrapes a metrics endpoint this script serves on 127.0.0.1;
chatops (wired by `bootstrap.build`, SQLite) holds N live staging deployments
of N bots whose environment verifies one check every interval. Prints:

- the cost of one check of one deployment per interval: chatops' CPU time and
  wall time, and the Prometheus queries sent (counted by Prometheus itself);
- how long after the soak time ends a clean release becomes promotable
  (target: within one verify interval);
- how long after a metric breaks its bound the alert opens (at most one scrape
  plus one interval).

    python bench/verify.py [deployments] [rounds]
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatops.adapters import local_services
from chatops.adapters.db.schema import upgrade
from chatops.bootstrap import Application, build
from chatops.config import load
from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.domain.verification import RunState

INTERVAL = 1.0  # seconds between verification rounds (the bench's verify.interval_seconds)
SOAK = 3.0  # prod's soak_seconds
SCRAPE = 0.25  # Prometheus' scrape interval here


@dataclass
class Figures:
    deployments: int
    rounds: int
    cpu_per_check_ms: float
    wall_per_check_ms: float
    queries_per_check: float
    promotable_after_soak_s: float
    alert_after_breach_s: float

    def lines(self) -> list[str]:
        return [
            f"{self.deployments} live deployments x 1 check, {self.rounds} rounds",
            f"  per check per interval: CPU {self.cpu_per_check_ms:.2f} ms, "
            f"wall {self.wall_per_check_ms:.2f} ms, "
            f"{self.queries_per_check:.2f} Prometheus queries",
            f"  promotable after the soak ended: {self.promotable_after_soak_s:.2f} s "
            f"(interval {INTERVAL:g} s; target <= 1 interval)",
            f"  alert after the metric broke its bound: {self.alert_after_breach_s:.2f} s "
            f"(scrape {SCRAPE:g} s + interval {INTERVAL:g} s)",
        ]


class _Metrics:
    """/metrics with one gauge per bot: `bench_errors{bot="…"}`."""

    def __init__(self, bots: list[str]) -> None:
        self.values = dict.fromkeys(bots, 0.0)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = "".join(
                    f'bench_errors{{bot="{b}"}} {v}\n' for b, v in owner.values.items()
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def _world(count: int) -> Iterator[tuple[Application, _Metrics, str]]:
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="chatops-bench-verify-"))
        stack.callback(shutil.rmtree, root, True)
        bots = [f"bot{n:03d}" for n in range(count)]
        metrics = _Metrics(bots)
        thread = threading.Thread(target=metrics.server.serve_forever, daemon=True)
        thread.start()
        stack.callback(metrics.server.server_close)
        stack.callback(metrics.server.shutdown)
        prometheus = local_services.start_prometheus(
            root / "prometheus", targets=[metrics.target], scrape_seconds=SCRAPE
        )
        stack.callback(prometheus.stop)
        url = prometheus.env["PROMETHEUS"]
        document: dict[str, Any] = {
            "database_url": "sqlite:///chatops.db",
            "workdir": "state",
            "environments": {
                "staging": {
                    "verify": {
                        "prometheus": url,
                        "interval_seconds": INTERVAL,
                        "checks": [
                            {
                                "name": "errors",
                                "query": 'sum(bench_errors{bot="{bot}"})',
                                "max": 0,
                            }
                        ],
                    }
                },
                "prod": {
                    "promote_from": "staging",
                    "soak_seconds": SOAK,
                    "deployers": ["*"],
                },
            },
            "bots": {bot: {"repo": str(root / "repo")} for bot in bots},
        }
        config = root / "chatops.yaml"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        upgrade(load(config).file.database_url)
        application = build(load(config))
        stack.callback(application.close)
        yield application, metrics, url


def _go_live(
    application: Application, bots: list[str], at: datetime, version: int = 1
) -> list[Deployment]:
    live = []
    sha = f"{version:x}" * 40
    with application.store.uow() as uow:
        for bot in bots:
            uow.releases.add(
                Release(
                    bot, version, sha, f"{bot}/v{version}", f"{bot}:v{version}", "i", "d", "U", at
                )
            )
            live.append(
                uow.deployments.add(
                    Deployment(
                        bot=bot,
                        env="staging",
                        kind=Kind.DEPLOY,
                        state=State.LIVE,
                        requested_by="UBENCH",
                        requested_at=at,
                        updated_at=at,
                        commit=sha,
                        version=version,
                        live_at=at,
                        healthy_since=at,
                    )
                )
            )
        uow.commit()
    return live


def _query_count(prometheus: str) -> float:
    with urlopen(f"{prometheus}/metrics", timeout=5) as response:  # noqa: S310 - our own
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line
    )


def _scraped(prometheus: str) -> bool:
    url = f"{prometheus}/api/v1/query?query=count(bench_errors)"
    with urlopen(url, timeout=5) as response:  # noqa: S310 - our own
        return b'"result":[{' in response.read()


def _state(application: Application, bot: str) -> RunState | None:
    [row] = [r for r in application.queries.status(bot, probe=False) if r.env == "staging"]
    return row.verification.state if row.verification else None


def _rounds_until(application: Application, done: Any, timeout: float) -> float:
    """Verify every INTERVAL (as the scheduler does) until `done()`; seconds it took."""
    started = time.monotonic()
    next_round = started
    while time.monotonic() - started < timeout:
        if time.monotonic() >= next_round:
            application.verifier.verify_environment("staging")
            next_round += INTERVAL
        if done():
            return time.monotonic() - started
        time.sleep(0.01)
    raise RuntimeError(f"not done within {timeout:g}s")


def run(deployments: int = 100, rounds: int = 5) -> Figures:
    with _world(deployments) as (application, metrics, prometheus):
        bots = sorted(metrics.values)
        # wait until Prometheus has scraped the endpoint once
        deadline = time.monotonic() + 30
        while not _scraped(prometheus):
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus never scraped the bench endpoint")
            time.sleep(0.1)

        # cost: rounds over every live deployment, long before any soak ends
        _go_live(application, bots, datetime.now(UTC))
        queries_before = _query_count(prometheus)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            application.verifier.verify_environment("staging")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        checks = deployments * rounds
        queries = _query_count(prometheus) - queries_before

        # latency: a fresh release of one bot, clean; when does it become promotable?
        with application.store.uow() as uow:
            for d in uow.deployments.all_live():
                uow.deployments.save(dataclasses.replace(d, state=State.SUPERSEDED))
            uow.commit()
        [fresh] = _go_live(application, [bots[0]], datetime.now(UTC), version=2)
        soak_ends = (fresh.live_at or datetime.now(UTC)) + timedelta(seconds=SOAK)
        _rounds_until(application, lambda: _state(application, bots[0]) is RunState.PASSED, 30)
        promotable = (datetime.now(UTC) - soak_ends).total_seconds()

        # breach: its metric breaks the bound; when does the alert open?
        metrics.values[bots[0]] = 5.0
        broke = time.monotonic()
        _rounds_until(
            application,
            lambda: bool(application.queries.status(bots[0], probe=False)[0].open_alerts),
            30,
        )
        alerted = time.monotonic() - broke

    return Figures(
        deployments=deployments,
        rounds=rounds,
        cpu_per_check_ms=cpu / checks * 1000,
        wall_per_check_ms=wall / checks * 1000,
        queries_per_check=queries / checks,
        promotable_after_soak_s=promotable,
        alert_after_breach_s=alerted,
    )


def main() -> None:
    deployments = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    figures = run(deployments, rounds)
    print("\n".join(figures.lines()))


if __name__ == "__main__":
    main()
