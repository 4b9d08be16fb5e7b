"""bench/web.py runs (a short version): every page renders, and stays under 200 KB."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "web.py"


def test_the_web_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_web", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    found = bench.main(20, 500, 3)

    printed = capsys.readouterr().out
    assert "20 bots x 2 environments, 500 audit events" in printed
    assert set(found) >= {"overview", "bot", "deployment", "audit", "overview http", "bot http"}
    assert all(size < bench.MAX_BYTES for _, size in found.values())
    assert found["overview"][1] > 10_000  # 40 rows were rendered
