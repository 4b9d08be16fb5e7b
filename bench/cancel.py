"""How fast a stuck build ends: by `/cancel`, and by `build_timeout_seconds`.

Each round commits a Dockerfile whose RUN step never ends (`sleep 3600`), starts
the deployment on a thread (as `serve` does), waits until that step runs on the
engine, then cancels it through the service `/cancel` uses. Prints, per round,
the time from the cancel to the deployment recorded `failed` and to the step's
container being gone from the engine (target p50 < 3 s: the owner looks once a
second), then one round ended by a 3 s `build_timeout_seconds`.

    python bench/cancel.py [rounds]     (DOCKER_HOST / CHATOPS_BENCH_REGISTRY optional)
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import docker
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import Bench, bench_environment, git, median
from chatops.domain.deployment import Deployment, State
from chatops.services.context import Actor

TARGET_P50 = 3.0
ACTOR = Actor("bench", "cli")


def stuck_commit(bench: Bench) -> str:
    """Commit a Dockerfile whose RUN step prints a marker, then never ends; the marker."""
    marker = uuid.uuid4().hex
    (bench.work / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {marker}; exec /bin/busybox sleep 3600"]\n'
    )
    git("add", "-A", cwd=bench.work)
    git("commit", "-q", "-m", f"stuck {marker}", cwd=bench.work)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=bench.work)
    return marker


def steps(client: docker.DockerClient, marker: str) -> list[str]:
    return [c["Id"] for c in client.api.containers(all=True) if marker in c["Command"]]


def wait(what: str, probe: object, timeout: float = 120.0) -> float:
    started = time.perf_counter()
    while not probe():  # type: ignore[operator]
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.perf_counter()


def one_round(bench: Bench, client: docker.DockerClient, *, cancel: bool) -> tuple[float, float]:
    """(seconds to `failed`, seconds until the step is gone) from the cancel or the start."""
    application = bench.application()
    ended: list[Deployment] = []
    try:
        marker = stuck_commit(bench)
        runner = threading.Thread(
            target=lambda: ended.append(application.requests.deploy(ACTOR, bench.bot, "staging"))
        )
        started = time.perf_counter()
        runner.start()
        wait("the RUN step", lambda: steps(client, marker))
        if cancel:
            started = time.perf_counter()
            application.cancels.cancel(ACTOR, bench.bot, "staging")
        runner.join(timeout=120)
        failed_at = time.perf_counter()
        [deployment] = ended
        assert deployment.state is State.FAILED, deployment
        gone_at = wait("the step to go", lambda: not steps(client, marker))
        print(f"  #{deployment.id}: {deployment.reason}")
        return failed_at - started, max(gone_at, failed_at) - started
    finally:
        application.close()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with bench_environment() as bench:
        client = docker.DockerClient(base_url=bench.docker_host)
        try:
            to_failed, to_gone = [], []
            for number in range(1, rounds + 1):
                failed, gone = one_round(bench, client, cancel=True)
                to_failed.append(failed)
                to_gone.append(gone)
                print(f"round {number}: cancel → failed {failed:.2f}s, step gone {gone:.2f}s")
            document = yaml.safe_load(bench.config.read_text())
            document["bots"][bench.bot]["build_timeout_seconds"] = 3
            bench.config.write_text(yaml.safe_dump(document, sort_keys=False))
            failed, gone = one_round(bench, client, cancel=False)
            print(f"build_timeout_seconds 3: start → failed {failed:.2f}s, step gone {gone:.2f}s")
        finally:
            client.close()
    p50 = median(to_failed)
    print(
        f"cancel → failed: p50 {p50:.2f}s, max {max(to_failed):.2f}s; "
        f"cancel → step gone: p50 {median(to_gone):.2f}s (target p50 < {TARGET_P50:.0f}s)"
    )
    if p50 >= TARGET_P50:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
