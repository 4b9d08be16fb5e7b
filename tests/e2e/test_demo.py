"""`chatops demo` tells the whole story, in 80 columns, and leaves a folder chatops can read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_the_demo_tells_the_whole_story_and_leaves_a_readable_folder(
    tmp_path: Path, docker_host: str
) -> None:
    workdir = tmp_path / "demo"
    env = {**os.environ, "DOCKER_HOST": docker_host, "COLUMNS": "80", "PYTHONWARNINGS": "ignore"}
    for name in ("CHATOPS_CONFIG", "CHATOPS_DATABASE_URL", "SLACK_BOT_TOKEN"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert said.count("approved by U0LEAD") == 2
    assert "refused:" in said, "the requester cannot approve their own promotion"
    assert "failed its health check" in said
    assert "alert #" in said and "buttons: [Rollback]" in said
    assert "U0LEAD presses Rollback on alert #" in said
    assert said.index("chatops status ─") < said.index("chatops releases mybot ─")
    tables = [line for line in said.splitlines() if line[:1] in "┏┃┡│└"]
    assert tables and max(len(line) for line in tables) <= 80

    status = subprocess.run(
        [sys.executable, "-m", "chatops", "status", "--json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    rows = {row["env"]: row for row in json.loads(status.stdout)}
    assert (rows["prod"]["version"], rows["staging"]["version"]) == (1, 1)
    # prod has no auto_deploy: the rollback there leaves no hold (nothing automatic to hold)
    assert rows["prod"]["hold"] is None and rows["prod"]["lock"] is None
