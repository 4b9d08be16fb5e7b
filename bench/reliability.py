"""Issue 8's "done means", in one run anyone can repeat: faults survived, bad input refused,
load held.

1. Load: signed slash commands at a steady rate (default 100/s for 30 s) against a real
   `chatops serve` on SQLite, then on PostgreSQL, with the Slack stand-in. A mix of what
   people type: `/deploy` of the bot (one runs at a time, the rest are refused as busy),
   `/deploy` into prod (refused by policy), `/deploy` of an unknown bot, `/rollback`;
   every twentieth request is delivered twice, as Slack's retry. Prints the p50/p99 time
   to the HTTP answer, errors (non-200 or no reply), audit events against requests (each
   request is recorded once, retries never), and duplicate deployments (two of one bot
   and environment in progress at once, or a retry that started a second one): 0.
2. Slack: 50 deployments finishing in one channel, with the stand-in enforcing Slack's
   1 message/s per channel (tests/slack/delivery.py): every message ends showing its
   deployment's final state.
3. Faults and bad input: runs the fault tests (tests/e2e/test_faults*.py: serve killed
   and stopped mid-deployment, the engine and PostgreSQL restarted, the registry down,
   Slack failing) and the bad-input tests (hypothesis through the real HTTP app), and
   counts faults survived and hostile inputs refused cleanly.

    python bench/reliability.py [--quick]

`--quick` (20 commands/s for 3 s on SQLite, 3 deployments, no pytest runs) is what the
test suite runs. DOCKER_HOST, CHATOPS_BENCH_REGISTRY and CHATOPS_BENCH_POSTGRES_URL
name running services; otherwise private ones are started (as root) and stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import Bench, bench_environment, median, percentile
from chatops.adapters import local_services
from chatops.adapters.db.schema import upgrade
from tests.e2e.serving import BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack import signing
from tests.slack.delivery import Outbox, burst
from tests.slack.standin import RESPONSE_URL, SlackStandIn

ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "staging": {"deployers": ["*"]},
    "prod": {
        "promote_from": "staging",
        "approvals": 1,
        "approvers": ["U0LEAD"],
        "deployers": ["*"],
    },
}
MIX = [  # what people type, in proportion
    ("/deploy", "benchbot staging"),
    ("/deploy", "benchbot staging"),
    ("/deploy", "benchbot prod"),
    ("/deploy", "ghostbot staging"),
    ("/rollback", "benchbot staging"),
]
RETRY_EVERY = 20
USER_PREFIX = "ULOAD"


@dataclass
class Load:
    label: str
    sent: int
    retries: int
    seconds: float
    times: list[float]
    errors: int
    audit_events: int
    deployments: int
    duplicates: int

    def lines(self) -> list[str]:
        p50, p99 = median(self.times), percentile(self.times, 99)
        return [
            f"{self.label}: {self.sent} signed slash commands in {self.seconds:.1f}s "
            f"({self.sent / self.seconds:.0f}/s) + {self.retries} Slack retries",
            f"  acknowledged: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"slowest {max(self.times) * 1000:.0f} ms (Slack allows 3000 ms)",
            f"  errors: {self.errors}; audit events {self.audit_events} == requests "
            f"{self.sent}: {'yes' if self.audit_events == self.sent else 'NO'}; "
            f"deployments started {self.deployments}, duplicates {self.duplicates}",
        ]


def _configure(bench: Bench, database_url: str, label: str) -> Path:
    document = yaml.safe_load(bench.config.read_text())
    document["database_url"] = database_url
    document["slack"] = {"channel": "C0DEPLOYS"}
    config = bench.root / f"chatops-{label}.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    upgrade(database_url)
    return config


@contextmanager
def _database(bench: Bench, server: str | None, label: str) -> Iterator[str]:
    """A new, empty database: a SQLite file, or one on the PostgreSQL `server`."""
    if server is None:
        yield f"sqlite:///{bench.root / f'{label}.db'}"
        return
    name = f"chatops_bench_{os.getpid()}_{label}"
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _load(bench: Bench, database_url: str, label: str, *, rate: int, seconds: int) -> Load:
    config = _configure(bench, database_url, label)
    count = rate * seconds
    with SlackStandIn() as standin:
        env = {
            **os.environ,
            "DOCKER_HOST": bench.docker_host,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": standin.base_url,
        }
        served = Served(config, env).start()
        try:
            requests = [
                signing.slash_command(
                    MIX[n % len(MIX)][0],
                    MIX[n % len(MIX)][1],
                    user=f"{USER_PREFIX}{n:05d}",  # many people: the per-person limit stays out
                    response_url=standin.response_url(f"{label}{n}"),
                    secret=SIGNING_SECRET,
                )
                for n in range(count)
            ]
            times: list[float] = [0.0] * count
            codes: Counter[int] = Counter()
            guard = threading.Lock()
            with httpx.Client(timeout=10) as client:
                client.get(f"{served.url}/healthz")
                start = time.perf_counter() + 0.2

                def send(n: int) -> None:
                    body, headers = requests[n]
                    time.sleep(max(0.0, start + n / rate - time.perf_counter()))
                    began = time.perf_counter()
                    try:
                        code = client.post(
                            f"{served.url}/slack/events", content=body, headers=headers
                        ).status_code
                    except httpx.HTTPError:
                        code = 0
                    times[n] = time.perf_counter() - began
                    if n % RETRY_EVERY == 0:  # Slack delivers it again
                        retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "x"}
                        client.post(f"{served.url}/slack/events", content=body, headers=retry)
                    with guard:
                        codes[code] += 1

                watch = _Concurrency(database_url)
                with watch, ThreadPoolExecutor(max_workers=64) as pool:
                    list(pool.map(send, range(count)))
                took = time.perf_counter() - start
                replied = _wait_replies(standin, count)
                _wait_idle(database_url)
        finally:
            served.stop()
    audit, deployments, duplicates = _records(database_url)
    duplicates += watch.overlaps
    errors = count - codes[200] + (count - replied)
    return Load(
        label, count, len(range(0, count, RETRY_EVERY)), took, times, errors, audit,
        deployments, duplicates,
    )  # fmt: skip


def _wait_replies(standin: SlackStandIn, count: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replied = len(standin.calls(RESPONSE_URL))
        if replied >= count:
            return replied
        time.sleep(0.2)
    return len(standin.calls(RESPONSE_URL))


def _wait_idle(database_url: str, timeout: float = 180) -> None:
    """Until no deployment is in progress (the last one started finishes)."""
    engine = sqlalchemy.create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                busy = conn.execute(
                    sqlalchemy.text(
                        "SELECT count(*) FROM deployments WHERE state IN "
                        "('queued', 'building', 'deploying', 'verifying')"
                    )
                ).scalar_one()
            if not busy:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def _records(database_url: str) -> tuple[int, int, int]:
    """Audit events by the people who typed, deployments they started, duplicates among them."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            audit = conn.execute(
                sqlalchemy.text("SELECT count(*) FROM audit_events WHERE actor LIKE :p"),
                {"p": f"{USER_PREFIX}%"},
            ).scalar_one()
            rows = conn.execute(
                sqlalchemy.text(
                    "SELECT bot, env, requested_by, requested_at, updated_at FROM deployments "
                    "WHERE requested_by LIKE :p ORDER BY id"
                ),
                {"p": f"{USER_PREFIX}%"},
            ).all()
    finally:
        engine.dispose()
    duplicates = len(rows) - len({row.requested_by for row in rows})  # a retry started one
    return int(audit), len(rows), duplicates


class _Concurrency:
    """Samples the database while the load runs: how often a bot and environment had more
    than one deployment in progress at once (never, if exclusivity holds)."""

    def __init__(self, database_url: str) -> None:
        self._engine = sqlalchemy.create_engine(database_url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.overlaps = 0

    def __enter__(self) -> _Concurrency:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()

    def _run(self) -> None:
        query = sqlalchemy.text(
            "SELECT bot, env, count(*) FROM deployments WHERE state IN "
            "('queued', 'building', 'deploying', 'verifying') GROUP BY bot, env HAVING count(*) > 1"
        )
        while not self._stop.wait(0.1):
            with self._engine.connect() as conn:
                self.overlaps += len(conn.execute(query).all())


# ── Slack ────────────────────────────────────────────────────────────────────


def _slack(deployments: int) -> str:
    with SlackStandIn() as slack, tempfile.TemporaryDirectory() as tmp:
        slack.rate_limit("chat.postMessage")
        slack.rate_limit("chat.update")
        outbox = Outbox.open(f"sqlite:///{tmp}/chatops.db", slack)
        try:
            finals = burst(outbox.notifier, range(1, deployments + 1))
            took = outbox.wait_until_shown(finals, timeout=30 + 3 * deployments)
            shown = sum(outbox.shown(finals.values()).values())
        finally:
            outbox.close()
        calls = len(slack.calls("chat.postMessage")) + len(slack.calls("chat.update"))
    return (
        f"Slack, 1 message/s per channel: {deployments} deployments finishing at once in one "
        f"channel; {shown}/{deployments} messages show their final state, {took:.1f}s after the "
        f"burst ({calls} Web API calls, those over the limit answered 429 and retried)"
    )


# ── faults and bad input (the test suite's own) ─────────────────────────────


def _pytest(*paths: str) -> tuple[int, int, int, list[str]]:
    """(passed, failed, hypothesis examples, what failed) of a pytest run of `paths`."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--hypothesis-show-statistics", *paths],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    out = result.stdout
    last = out.strip().splitlines()[-1] if out.strip() else ""
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", last))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", last))
    examples = sum(int(a) + int(b) for a, b in re.findall(r"(\d+) passing, (\d+) failing", out))
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+.*)$", out, flags=re.MULTILINE)
    return passed, failed, examples, failures


@contextmanager
def _postgres(root: Path, quick: bool) -> Iterator[str | None]:
    given = os.environ.get("CHATOPS_BENCH_POSTGRES_URL")
    if quick:
        yield None
        return
    if given:
        yield given
        return
    service = local_services.start_postgres(root / "postgres")
    try:
        yield service.env["POSTGRES_URL"]
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds' version")
    args = parser.parse_args()
    rate, seconds, deployments = (20, 3, 3) if args.quick else (100, 30, 50)
    started = time.monotonic()
    report: list[str] = []
    loads = []
    with (
        bench_environment(environments=ENVIRONMENTS) as bench,
        _postgres(bench.root, args.quick) as pg,
    ):
        for label, server in (("sqlite", None), ("postgresql", pg))[: 1 if args.quick else 2]:
            with _database(bench, server, label) as url:
                loads.append(_load(bench, url, label, rate=rate, seconds=seconds))
    for load in loads:
        report += load.lines()
    report.append(_slack(deployments))
    if not args.quick:
        passed, failed, _, which = _pytest(
            "tests/e2e/test_faults.py", "tests/e2e/test_faults_infra.py"
        )
        report.append(
            f"faults injected {passed + failed}, survived {passed} (serve SIGKILLed while "
            "building, deploying, verifying; SIGTERM within and past the grace; dockerd and "
            "PostgreSQL restarted mid-deploy; registry down at push; Slack 500/429)"
        )
        report += [f"  NOT survived: {name}" for name in which]
        passed, failed, examples, which = _pytest(
            "tests/integration/test_bad_input.py", "tests/integration/test_http_fuzz.py"
        )
        report.append(
            f"bad inputs tried {examples} (hypothesis: hostile text in every command and "
            f"button, every endpoint's payloads), in {passed + failed} tests: {passed} "
            f"tests all refused cleanly, {failed} not"
        )
        report += [f"  NOT refused cleanly: {name}" for name in which]
    print("\n".join(report))
    print(f"(took {time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
