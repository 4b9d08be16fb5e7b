"""The CLI as a newcomer types it: one grammar, hints in its own syntax, each thing said once.

No engine is needed: these commands only read and write the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CONFIG = {
    "database_url": "sqlite:///chatops.db",
    "workdir": "work",
    "slack": {"channel": "C0DEPLOYS", "admins": ["UADMIN"]},
    "environments": {
        "staging": {},
        "prod": {
            "promote_from": "staging",
            "approvals": 1,
            "approvers": ["ULEAD1"],
            "deployers": ["UDEV", "ULEAD1"],
        },
    },
    "bots": {"mybot": {"repo": "/nonexistent/mybot.git", "branch": "main"}},
}


class Home:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {**os.environ, "USER": "UDEV", "PYTHONWARNINGS": "ignore"}
        for name in ("CHATOPS_DATABASE_URL", "CHATOPS_CONFIG", "SLACK_BOT_TOKEN"):
            self.env.pop(name, None)

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chatops", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd or self.path,
            timeout=120,
            check=False,
        )


@pytest.fixture
def home(tmp_path: Path) -> Home:
    (tmp_path / "chatops.yaml").write_text(yaml.safe_dump(CONFIG))
    found = Home(tmp_path)
    assert found.run("db", "upgrade").returncode == 0
    return found


def test_lock_and_unlock_say_it_once_and_hints_speak_the_cli(home: Home) -> None:
    locked = home.run("lock", "mybot", "staging", "--reason", "db migration")
    assert locked.returncode == 0, locked.stderr
    assert locked.stdout.count("locked by UDEV") == 1
    assert "locked" not in locked.stderr

    refused = home.run("lock", "mybot", "staging", "--reason", "mine", "--user", "ULEAD1")
    assert refused.returncode == 1
    assert "`chatops unlock mybot staging`" in refused.stderr
    assert "/unlock" not in refused.stderr

    unlocked = home.run("unlock", "mybot", "staging")
    assert unlocked.returncode == 0, unlocked.stderr
    assert (unlocked.stdout + unlocked.stderr).count("unlocked") == 1
