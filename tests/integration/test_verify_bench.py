"""bench/verify.py, short: the cost and latency figures come out and hold their targets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_verify", ROOT / "bench" / "verify.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_verify"] = module
    spec.loader.exec_module(module)
    return module


def test_the_short_bench_runs_and_a_clean_release_is_promotable_within_one_interval() -> None:
    bench = _bench()
    figures = bench.run(deployments=5, rounds=2)
    assert figures.queries_per_check == 1.0  # one query per check per round, no retries
    assert 0 <= figures.promotable_after_soak_s <= bench.INTERVAL + 0.5
    assert figures.alert_after_breach_s <= bench.SCRAPE + bench.INTERVAL + 1.5
    assert all(line for line in figures.lines())
