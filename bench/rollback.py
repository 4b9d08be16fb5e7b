"""A rollback against a fresh deploy: how much faster going back is.

Each round deploys a new commit of the sample bot (build, push, tag, run,
verify), then rolls it back (no build: run the previous release's image and
verify). Prints per-round times, the median ratio rollback / fresh deploy
(target ≤ 0.25) and the median rollback time (target < 3 s).

    python bench/rollback.py [rounds]     (DOCKER_HOST / CHATOPS_BENCH_REGISTRY optional)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import bench_environment, median
from chatops.services.context import Actor

RATIO_TARGET = 0.25
SECONDS_TARGET = 3.0


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    actor = Actor("bench", "cli")
    with bench_environment() as bench:
        application = bench.application()
        try:
            first = application.requests.deploy(actor, bench.bot, "staging")
            assert first.state == "live", first.reason
            deploys, rollbacks, ratios = [], [], []
            for number in range(1, rounds + 1):
                bench.commit(f"round {number}")
                started = time.perf_counter()
                fresh = application.requests.deploy(actor, bench.bot, "staging")
                deployed = time.perf_counter() - started
                assert fresh.state == "live", fresh.reason
                started = time.perf_counter()
                back = application.requests.rollback(actor, bench.bot, "staging")
                rolled = time.perf_counter() - started
                assert back.state == "live", back.reason
                deploys.append(deployed)
                rollbacks.append(rolled)
                ratios.append(rolled / deployed)
                print(
                    f"round {number}: deploy v{fresh.version} {deployed:.2f}s, "
                    f"rollback to v{back.version} {rolled:.2f}s, ratio {ratios[-1]:.2f}"
                )
        finally:
            application.close()
    ratio, seconds = median(ratios), median(rollbacks)
    print(f"median fresh deploy {median(deploys):.2f}s, median rollback {seconds:.2f}s")
    print(
        f"median ratio rollback / deploy: {ratio:.3f} (target <= {RATIO_TARGET}): "
        f"{'met' if ratio <= RATIO_TARGET else 'NOT met'}"
    )
    print(
        f"median rollback {seconds:.2f}s (target < {SECONDS_TARGET}s): "
        f"{'met' if seconds < SECONDS_TARGET else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
