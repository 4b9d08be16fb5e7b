"""`bench/reliability.py --quick` runs and holds: every command acknowledged and recorded
once, no duplicate deployment, every Slack message ending on its final state."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_reliability_bench_quick(docker_host: str, registry: str) -> None:
    result = subprocess.run(
        [sys.executable, "bench/reliability.py", "--quick"],
        cwd=ROOT,
        env={**os.environ, "DOCKER_HOST": docker_host, "CHATOPS_BENCH_REGISTRY": registry},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "sqlite: 60 signed slash commands" in out, out
    assert "errors: 0; audit events 60 == requests 60: yes;" in out, out
    assert re.search(r"deployments started [1-9]\d*, duplicates 0", out), out
    p99 = re.search(r"p99 (\d+) ms", out)
    assert p99 is not None and int(p99[1]) < 3000, out
    assert "3/3 messages show their final state" in out, out
