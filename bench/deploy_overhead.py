"""How much chatops adds to a deployment: chatops vs. the same steps by hand, side by side.

Each round commits a change to the sample bot, then deploys it twice, in
alternating order: through chatops (the service call `serve` and the CLI make),
and by hand with the git and docker CLIs — fetch, annotated tag + push, build
from `git archive`, push, replace the container, wait until healthy. The build
cache is warm after a first, uncounted round. Prints the median of the
per-round ratios chatops / by hand (target ≤ 1.15) and the CLI's own start-up.

    python bench/deploy_overhead.py [rounds]     (DOCKER_HOST / CHATOPS_BENCH_REGISTRY optional)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import Bench, bench_environment, git, median
from chatops.adapters.local_services import free_port
from chatops.services.context import Actor

TARGET = 1.15


def docker(bench: Bench, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["docker", "--host", bench.docker_host, *args],
        input=stdin,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip()


def by_hand(bench: Bench, clone: Path, version: int, port: int) -> float:
    started = time.perf_counter()
    git("fetch", "-q", "origin", cwd=clone)
    sha = git("rev-parse", "origin/main", cwd=clone)
    tag = f"hand/v{version}"
    git("tag", "-a", tag, sha, "-m", f"hand v{version}", cwd=clone)
    git("push", "-q", "origin", f"refs/tags/{tag}", cwd=clone)
    image = f"{bench.registry}/handbot:v{version}"
    context = subprocess.run(
        ["git", "archive", "--format=tar", sha], cwd=clone, capture_output=True, check=True
    ).stdout
    docker(
        bench,
        "build",
        "-q",
        "-t",
        image,
        "--label",
        f"org.opencontainers.image.revision={sha}",
        "--label",
        f"org.opencontainers.image.version=v{version}",
        "--label",
        f"org.opencontainers.image.source={bench.remote}",
        "--label",
        "chatops.bot=handbot",
        "-",
        stdin=context,
    )
    docker(bench, "push", "-q", image)
    subprocess.run(
        ["docker", "--host", bench.docker_host, "rm", "-f", "hand-staging"],
        capture_output=True,
        check=False,
    )
    docker(
        bench,
        "run",
        "-d",
        "--name",
        "hand-staging",
        "--network",
        "host",
        "--init",
        "--restart",
        "unless-stopped",
        "-e",
        f"PORT={port}",
        image,
    )
    while docker(bench, "inspect", "-f", "{{.State.Health.Status}}", "hand-staging") != "healthy":
        time.sleep(0.25)
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with bench_environment() as bench:
        clone = bench.root / "hand-clone"
        git("clone", "-q", str(bench.remote), str(clone), cwd=bench.root)
        port = free_port()
        application = bench.application()
        actor = Actor("bench", "cli")
        ratios, ours, theirs = [], [], []
        try:
            for number in range(rounds + 1):  # round 0 warms the caches
                bench.commit(f"round {number}")
                order = ["chatops", "hand"] if number % 2 == 0 else ["hand", "chatops"]
                took: dict[str, float] = {}
                for who in order:
                    if who == "chatops":
                        started = time.perf_counter()
                        deployment = application.requests.deploy(actor, bench.bot, "staging")
                        took[who] = time.perf_counter() - started
                        assert deployment.state == "live", deployment.reason
                    else:
                        took[who] = by_hand(bench, clone, number + 1, port)
                if number == 0:
                    continue
                ours.append(took["chatops"])
                theirs.append(took["hand"])
                ratios.append(took["chatops"] / took["hand"])
                print(
                    f"round {number}: chatops {took['chatops']:.2f}s, by hand {took['hand']:.2f}s, "
                    f"ratio {ratios[-1]:.2f}"
                )
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "chatops",
                    "--config",
                    str(bench.config),
                    "status",
                    "--json",
                ],
                capture_output=True,
                check=True,
                env={"DOCKER_HOST": bench.docker_host, "PATH": "/usr/bin:/bin"},
            )
            cli = time.perf_counter() - started
        finally:
            application.close()
            subprocess.run(
                ["docker", "--host", bench.docker_host, "rm", "-f", "hand-staging"],
                capture_output=True,
                check=False,
            )
        ratio = median(ratios)
        print(f"median chatops {median(ours):.2f}s, by hand {median(theirs):.2f}s")
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"median ratio chatops / by hand: {ratio:.3f} (target <= {TARGET}): {verdict}")
        print(f"CLI start-up and a status query: {cli:.2f}s (what `chatops deploy` adds on top)")


if __name__ == "__main__":
    main()
