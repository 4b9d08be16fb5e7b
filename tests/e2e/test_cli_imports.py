"""A read command imports only what it uses (issue 10, "The CLI is fast").

`build(config, for_="cli")` makes each adapter and service on first use, so
`status` and `releases` load the store and the queries, and no engine SDK, no
Slack, no Alembic, no HTTP server, no health probe, forge or Prometheus client.
"""

from __future__ import annotations

import json
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
        "staging": {"freeze": [{"cron": "0 22 * * fri", "duration_hours": 48}]},
        "prod": {
            "promote_from": "staging",
            "approvals": 1,
            "approvers": ["ULEAD1"],
            "deployers": ["*"],
        },
    },
    "bots": {"mybot": {"repo": "https://git.invalid/acme/mybot.git", "branch": "main"}},
}

# modules a read command has no use for (each is made when a command needs it)
UNUSED = (
    "alembic",
    "docker",
    "git",
    "slack_sdk",
    "slack_bolt",
    "starlette",
    "uvicorn",
    "jinja2",
    "prometheus_client",
    "chatops.adapters.docker_client",
    "chatops.adapters.git",
    "chatops.adapters.forge",
    "chatops.adapters.health_probe",
    "chatops.adapters.prometheus",
    "chatops.adapters.secrets",
    "chatops.adapters.freeze",
    "chatops.services.alerts",
    "chatops.services.monitor",
    "chatops.services.verification",
    "chatops.entrypoints.serve",
)

# runs `python -m chatops ARGS…` and writes the modules it imported, even when it exits
PROBE = """
import atexit, json, runpy, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["chatops", *args]
runpy.run_module("chatops", run_name="__main__")
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "chatops.yaml").write_text(yaml.safe_dump(CONFIG))
    return tmp_path


def _imported(home: Path, *args: str) -> set[str]:
    env = {**os.environ, "USER": "UDEV", "PYTHONWARNINGS": "ignore"}
    for name in ("CHATOPS_DATABASE_URL", "CHATOPS_CONFIG", "SLACK_BOT_TOKEN"):
        env.pop(name, None)
    out = home / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(f"{name}.") for m in modules)


@pytest.mark.parametrize("command", [["status"], ["releases", "mybot"], ["status", "--json"]])
def test_a_read_command_imports_no_adapter_it_does_not_use(home: Path, command: list[str]) -> None:
    _imported(home, "status")  # a new database is created and migrated on first use

    modules = _imported(home, *command)

    assert "chatops.adapters.db.uow" in modules  # it did read the database
    assert [name for name in UNUSED if _loaded(modules, name)] == []
