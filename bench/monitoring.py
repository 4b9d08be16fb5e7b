"""Health checks of 50 live bots: chatops' CPU per check round, and how fast a dead bot is noticed.

Runs 50 containers of the sample bot (static busybox httpd with its HEALTHCHECK,
each bound to its own 127.0.0.1 port) as the live deployments of 50 bots in one
environment, and drives `HealthChecks.check_environment` in this process every
interval, as the scheduler of `chatops serve` would, with the real DockerRuntime
and a SQLite database. The image is built once; releases and live deployments are
written to the store and the containers started through the runtime (no 50 builds).

Measured:
- CPU seconds (time.process_time) per check round, and per container, over rounds
  in which every bot is healthy (after one warm-up round);
- detection latency: a few containers are `docker kill`ed at random moments of
  the interval, timed until the alert reaches a recording notifier.

Targets: under 5 ms of CPU per container per round; median detection within one
interval + 1 s. A killed container is an incident at the first check that sees it
stopped, whatever `unhealthy_threshold` (chatops' default, 2, is used here).

    DOCKER_HOST=unix:///path/to/docker.sock python bench/monitoring.py

Environment variables:
    DOCKER_HOST         the Docker Engine to run the containers on (required)
    BENCH_CONTAINERS    how many bots and containers (default 50)
    BENCH_INTERVAL      health_interval_seconds (default 5)
    BENCH_ROUNDS        check rounds measured for CPU, after the warm-up (default 6)
    BENCH_KILLS         containers killed to measure detection (default 5)
    BENCH_THRESHOLD     unhealthy_threshold of the environment (default 2)
    BENCH_HEALTHCHECK_INTERVAL
                        seconds between the engine's own HEALTHCHECK runs in each container
                        (default 2; the sample image's 250 ms suits one test container, but
                        50 of them keep the engine busy with 200 health execs a second, and
                        since checks inspect containers one after another, a round then
                        takes longer than the 5 s interval)

It removes its containers and image on the way out, also after an error or
Ctrl-C, and every wait in it is bounded.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import docker
import docker.errors
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatops.adapters.db.schema import upgrade
from chatops.adapters.local_services import free_port
from chatops.bootstrap import Application, build
from chatops.config import load
from chatops.domain.alerts import AlertState
from chatops.domain.deployment import Deployment, Kind, Release, State
from chatops.domain.health import Health
from chatops.entrypoints.sample import write_sample_bot
from chatops.services.health_checks import HealthChecks
from chatops.services.runspec import run_spec
from chatops.services.views import AlertView, DeploymentView

ENV = "bench"
CPU_TARGET_MS = 5.0  # per container per round
DETECTION_SLACK = 1.0  # seconds beyond one interval


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass
class RecordingNotifier:
    """A Notifier that remembers when each bot's first alert arrived (time.monotonic)."""

    alerted: dict[str, float] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def deployment_changed(self, view: DeploymentView) -> None:
        pass

    def build_output(self, deployment: Deployment, line: str) -> None:
        pass

    def alert_changed(self, view: AlertView) -> None:
        if view.alert.state is AlertState.FIRING:
            with self._cond:
                self.alerted.setdefault(view.alert.bot, time.monotonic())
                self._cond.notify_all()

    def deployment_soaked(self, view: DeploymentView) -> None:
        pass

    def say(self, channel: str | None, text: str) -> None:
        pass

    def wait(self, bot: str, timeout: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: bot in self.alerted, timeout)
            return self.alerted.get(bot)


@dataclass
class Rounds:
    """The check loop: one `check_environment` per interval on its own thread, as the scheduler."""

    monitor: HealthChecks
    interval: float
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="checks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                results = self.monitor.check_environment(ENV)
            except Exception as exc:  # keep measuring; report it at the end
                self.errors.append(repr(exc))
            else:
                self.cpu.append(time.process_time() - cpu)
                self.wall.append(time.perf_counter() - wall)
                self.failed.append(sum(1 for r in results if not r.passed))
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.cpu) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(self.cpu) < count:
            raise RuntimeError(f"only {len(self.cpu)} of {count} check rounds ran: {self.errors}")

    def halt(self) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


def _pace_healthcheck(dockerfile: Path, seconds: float) -> None:
    """Run the sample image's HEALTHCHECK every `seconds` instead of its test pace (250 ms)."""
    text = dockerfile.read_text()
    paced = text.replace("--interval=250ms", f"--interval={seconds:g}s")
    if paced == text:
        raise RuntimeError(f"the sample Dockerfile changed; no --interval=250ms in:\n{text}")
    dockerfile.write_text(paced)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _write_config(root: Path, bots: dict[str, int], docker_host: str, threshold: int) -> Path:
    interval = _setting("BENCH_INTERVAL", 5)
    document = {
        "database_url": "sqlite:///chatops.db",
        "workdir": "state",
        "environments": {
            ENV: {
                "network": "host",
                "docker_host": docker_host,
                "health_interval_seconds": interval,
                "unhealthy_threshold": threshold,
            }
        },
        "bots": {
            bot: {"repo": str(root / "bot"), "environments": {ENV: {"env": {"PORT": str(port)}}}}
            for bot, port in bots.items()
        },
    }
    config = root / "chatops.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def _go_live(application: Application, bots: list[str], image_id: str, tag: str) -> None:
    """Record v1 of every bot as live and start its container through the runtime."""
    catalog = application.config.catalog
    now = datetime.now(UTC)
    commit = "0" * 40
    releases: dict[str, Release] = {}
    with application.store.uow() as uow:
        for bot in bots:
            releases[bot] = uow.releases.add(
                Release(
                    bot=bot,
                    version=1,
                    commit=commit,
                    tag=f"{bot}/v1",
                    image=tag,
                    image_id=image_id,
                    digest=image_id,
                    created_by="bench",
                    created_at=now,
                )
            )
            uow.deployments.add(
                Deployment(
                    bot=bot,
                    env=ENV,
                    kind=Kind.DEPLOY,
                    state=State.LIVE,
                    requested_by="bench",
                    requested_at=now,
                    updated_at=now,
                    commit=commit,
                    version=1,
                    live_at=now,
                    finished_at=now,
                )
            )
        uow.commit()
    runtime = application.adapters.runtimes[ENV]

    def start(bot: str) -> None:
        spec = run_spec(
            releases[bot],
            bot=catalog.bots[bot],
            environment=catalog.environments[ENV],
            target=catalog.bots[bot].targets[ENV],
            secrets={},
        )
        runtime.commit(bot, ENV, runtime.start(spec))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(start, bots))
    deadline = time.monotonic() + 90
    waiting = set(bots)
    while waiting and time.monotonic() < deadline:
        waiting = {b for b in waiting if runtime.observe(b, ENV).health is not Health.HEALTHY}
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise RuntimeError(f"{len(waiting)} containers did not become healthy within 90 s")


def _cleanup(client: docker.DockerClient, bots: set[str], image_id: str | None) -> None:
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"chatops.env={ENV}"}):
        if container.labels.get("chatops.bot") in bots:
            with suppress(docker.errors.APIError):
                container.remove(force=True)
                removed += 1
    if image_id is not None:
        with suppress(docker.errors.APIError):
            client.images.remove(image_id, force=True)
    print(f"cleaned up: {removed} containers removed")


def _report(rounds: Rounds, warmup: int, count: int, latencies: list[float]) -> bool:
    interval = rounds.interval
    measured = rounds.cpu[warmup : warmup + int(_setting("BENCH_ROUNDS", 6))]
    walls = rounds.wall[warmup : warmup + len(measured)]
    cpu = statistics.median(measured)
    per_container_ms = cpu / count * 1000
    print(f"warm-up round: {rounds.cpu[0] * 1000:.1f} ms CPU, {rounds.wall[0] * 1000:.1f} ms wall")
    print(
        f"check rounds (n={len(measured)}): CPU median {cpu * 1000:.1f} ms "
        f"(min {min(measured) * 1000:.1f}, max {max(measured) * 1000:.1f}), "
        f"wall median {statistics.median(walls) * 1000:.1f} ms"
    )
    if statistics.median(walls) > interval:
        print(f"warning: a check round takes longer than the {interval:g}s interval")
    cpu_ok = per_container_ms < CPU_TARGET_MS
    print(
        f"CPU per container per round: {per_container_ms:.2f} ms "
        f"(target < {CPU_TARGET_MS:.0f} ms): {'met' if cpu_ok else 'NOT met'}"
    )
    print(f"CPU share of one core at this interval: {cpu / interval * 100:.2f}%")
    limit = interval + DETECTION_SLACK
    if not latencies:
        print("detection: no kill was detected: NOT met")
        return False
    median = statistics.median(latencies)
    shown = ", ".join(f"{x:.2f}s" for x in latencies)
    detect_ok = median <= limit
    print(
        f"detection after docker kill ({len(latencies)} kills): {shown}; median {median:.2f}s "
        f"(target <= {limit:.1f}s): {'met' if detect_ok else 'NOT met'}"
    )
    if rounds.errors:
        print(f"check rounds that raised: {len(rounds.errors)}: {rounds.errors[:3]}")
    return cpu_ok and detect_ok and not rounds.errors


def _kill_some(
    client: docker.DockerClient,
    notifier: RecordingNotifier,
    *,
    bots: list[str],
    kills: int,
    interval: float,
    threshold: int,
) -> list[float]:
    """`docker kill` a few containers at random moments; seconds until each one's alert."""
    latencies: list[float] = []
    timeout = (threshold + 2) * interval + 10
    victims = random.sample(bots, k=min(kills, len(bots)))
    for victim in victims:
        time.sleep(random.uniform(0, interval))  # noqa: S311 (a random moment, not a secret)
        client.containers.get(f"{victim}-{ENV}").kill()
        killed = time.monotonic()
        alerted = notifier.wait(victim, timeout=timeout)
        if alerted is None:
            print(f"{victim}: no alert within {timeout:.0f}s")
            continue
        latencies.append(alerted - killed)
        print(f"killed {victim}-{ENV}: alert after {latencies[-1]:.2f}s")
    return latencies


def main() -> int:
    docker_host = os.environ.get("DOCKER_HOST")
    if not docker_host:
        print("set DOCKER_HOST to the Docker Engine to use (e.g. unix:///run/docker.sock)")
        return 2
    count = int(_setting("BENCH_CONTAINERS", 50))
    interval = _setting("BENCH_INTERVAL", 5)
    kills = int(_setting("BENCH_KILLS", 5))
    threshold = int(_setting("BENCH_THRESHOLD", 2))
    rounds_wanted = int(_setting("BENCH_ROUNDS", 6))
    healthcheck = _setting("BENCH_HEALTHCHECK_INTERVAL", 2)
    signal.signal(signal.SIGTERM, _interrupt)
    prefix = f"mon{uuid.uuid4().hex[:6]}"
    bots = {f"{prefix}-{n:02d}": free_port() for n in range(count)}
    client = docker.DockerClient(base_url=docker_host)
    image_id: str | None = None
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="chatops-bench-monitoring-"))
        stack.callback(shutil.rmtree, root, True)
        stack.callback(client.close)
        stack.callback(lambda: _cleanup(client, set(bots), image_id))
        write_sample_bot(root / "bot", message="bench")
        _pace_healthcheck(root / "bot" / "Dockerfile", healthcheck)
        tag = f"{prefix}:v1"
        image, _ = client.images.build(path=str(root / "bot"), tag=tag, rm=True)
        image_id = str(image.id)
        config = _write_config(root, bots, docker_host, threshold)
        upgrade(load(config).file.database_url)
        notifier = RecordingNotifier()
        application = build(load(config), notifiers=[notifier])
        stack.callback(application.close)
        started = time.perf_counter()
        _go_live(application, list(bots), image_id, tag)
        print(
            f"{count} containers live and healthy in {time.perf_counter() - started:.1f}s; "
            f"checks every {interval:g}s, unhealthy_threshold {threshold}, "
            f"HEALTHCHECK every {healthcheck:g}s"
        )
        health = application.monitoring.health
        rounds = Rounds(health, interval)
        rounds.start()
        stack.callback(rounds.halt)
        warmup = 1
        # bounded, but generous: a slow engine makes rounds longer than the interval
        rounds.wait_for(
            warmup + rounds_wanted, timeout=(warmup + rounds_wanted + 2) * interval + 120
        )
        if any(rounds.failed[: warmup + rounds_wanted]):
            print(f"warning: failing checks while all should pass: {rounds.failed}")

        latencies = _kill_some(
            client,
            notifier,
            bots=sorted(bots),
            kills=kills,
            interval=interval,
            threshold=threshold,
        )
        rounds.halt()
        ok = _report(rounds, warmup, count, latencies)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted (containers removed)")
        sys.exit(130)
