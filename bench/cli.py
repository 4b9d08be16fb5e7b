"""How long the CLI takes to answer, side by side with `python -c pass`.

A SQLite database holds 400 deployments (2 environments x 200 releases, health
as recorded: nothing is probed since no engine is configured to answer). Each
command runs as a new process, as a person would run it; medians of N runs, wall
time and CPU time (user + system: less sensitive to a busy machine).

- `status`, `releases mybot`: target ≤ 0.3 s.
- `deploy mybot prod`: everything `chatops deploy` does before any work starts
  (imports, config, database, recovery), ended by policy (prod takes only
  promotions) before git or Docker is touched: the start-up a deploy pays, target ≤ 0.3 s.

    python bench/cli.py [runs] [--source DIR]   (DIR: another chatops checkout to measure)
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatops.adapters.db.schema import upgrade  # noqa: E402
from chatops.adapters.db.uow import SqlStore  # noqa: E402
from chatops.domain.deployment import Deployment, Kind, Release, State  # noqa: E402

TARGET = 0.3
RELEASES = 200
ENVIRONMENTS = ("staging", "prod")

CONFIG = {
    "database_url": "sqlite:///chatops.db",
    "workdir": "work",
    "slack": {"channel": "C0DEPLOYS", "admins": ["UADMIN"]},
    "environments": {
        "staging": {"docker_host": "unix:///nonexistent/docker.sock"},
        "prod": {
            "docker_host": "unix:///nonexistent/docker.sock",
            "promote_from": "staging",
            "approvals": 1,
            "approvers": ["ULEAD1"],
            "deployers": ["*"],
        },
    },
    "bots": {"mybot": {"repo": "/nonexistent/mybot.git", "branch": "main"}},
}


def seed(url: str) -> None:
    """200 releases, each deployed to staging and prod: 400 deployments, the last ones live."""
    upgrade(url)
    store = SqlStore(url)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with store.uow() as uow:
            for version in range(1, RELEASES + 1):
                at = t0 + timedelta(hours=version)
                commit = f"{version:040x}"
                uow.releases.add(
                    Release(
                        bot="mybot",
                        version=version,
                        commit=commit,
                        tag=f"mybot/v{version}",
                        image=f"registry.test/mybot:v{version}",
                        image_id=f"sha256:{version:064x}",
                        digest=f"sha256:{version:064x}",
                        created_by="UDEV",
                        created_at=at,
                        subject=f"change number {version}",
                    )
                )
                for env in ENVIRONMENTS:
                    last = version == RELEASES
                    uow.deployments.add(
                        Deployment(
                            bot="mybot",
                            env=env,
                            kind=Kind.DEPLOY if env == "staging" else Kind.PROMOTE,
                            state=State.LIVE if last else State.SUPERSEDED,
                            requested_by="UDEV",
                            requested_at=at,
                            updated_at=at,
                            commit=commit,
                            version=version,
                            live_at=at,
                            healthy_since=at,
                            finished_at=None if last else at + timedelta(hours=1),
                        )
                    )
            uow.commit()
    finally:
        store.dispose()


def timed(
    commands: dict[str, list[str]], *, cwd: Path, env: dict[str, str], runs: int
) -> dict[str, tuple[float, float]]:
    """Median wall time and median CPU time (user + system) of `runs` runs of each command,
    taken in turns (a machine that slows down meanwhile slows them all alike)."""
    walls: dict[str, list[float]] = {label: [] for label in commands}
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
            walls[label].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {
        label: (statistics.median(walls[label]), statistics.median(cpus[label]))
        for label in commands
    }


def main() -> None:
    args = sys.argv[1:]
    source = ROOT
    if "--source" in args:
        at = args.index("--source")
        source = Path(args[at + 1]).resolve()
        del args[at : at + 2]
    runs = int(args[0]) if args else 7
    with tempfile.TemporaryDirectory(prefix="chatops-bench-cli-") as tmp:
        home = Path(tmp)
        (home / "chatops.yaml").write_text(yaml.safe_dump(CONFIG))
        seed(f"sqlite:///{home / 'chatops.db'}")
        env = {**os.environ, "PYTHONPATH": str(source), "USER": "UDEV"}
        for name in ("CHATOPS_CONFIG", "CHATOPS_DATABASE_URL", "SLACK_BOT_TOKEN", "DOCKER_HOST"):
            env.pop(name, None)
        # as people run it: Python's bytecode written once (by the check below) and reused
        # (some shells and CI set PYTHONDONTWRITEBYTECODE: every run then compiles chatops)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        python = [sys.executable]
        check = subprocess.run(
            [*python, "-m", "chatops", "status", "--json"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            sys.exit(f"`chatops status` failed: {check.stderr}")
        commands = {
            "python -c pass": [*python, "-c", "pass"],
            "chatops status": [*python, "-m", "chatops", "status"],
            "chatops releases mybot": [*python, "-m", "chatops", "releases", "mybot"],
            "chatops deploy (start-up)": [*python, "-m", "chatops", "deploy", "mybot", "prod"],
        }
        measured = timed(commands, cwd=home, env=env, runs=runs)
    baseline = measured["python -c pass"][0]
    rows = [(label, wall, cpu) for label, (wall, cpu) in measured.items()]
    print(f"chatops from {source}, {runs} runs each, 400 deployments in SQLite")
    print(f"{'command':<28} {'median':>8} {'x python':>9} {'- python':>9} {'CPU':>7}  target")
    for label, seconds, cpu in rows:
        added = seconds - baseline
        target = "" if label.startswith("python") else f"≤ {TARGET:.1f}s"
        verdict = "" if not target else ("ok" if seconds <= TARGET else "over")
        print(
            f"{label:<28} {seconds:>7.3f}s {seconds / baseline:>8.1f}x {added:>8.3f}s "
            f"{cpu:>6.3f}s  {target} {verdict}"
        )


if __name__ == "__main__":
    main()
