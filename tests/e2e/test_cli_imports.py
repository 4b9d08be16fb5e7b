"""A read command imports only what it uses (issue 10, "The CLI is fast").

`build(config, for_="cli")` makes each adapter and service on first use, so
`status` and `releases` load the queries and read SQLite through sqlite3 alone: no
SQLAlchemy, no engine SDK, no Slack, no Alembic, no HTTP server, no health probe,
forge or Prometheus client. A new database is created, and a deployment left under
way is recovered, through the store as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.domain.deployment import Deployment, Kind, State

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
    "sqlalchemy",
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


def _python(home: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS…` in `home`, as UDEV, with no chatops variables but `variables`."""
    env = {**os.environ, "USER": "UDEV", "PYTHONWARNINGS": "ignore"}
    for name in ("CHATOPS_DATABASE_URL", "CHATOPS_CONFIG", "SLACK_BOT_TOKEN"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env | variables,
        cwd=home,
        timeout=120,
        check=False,
    )


def _imported(home: Path, *args: str, **variables: str) -> set[str]:
    out = home / "modules.json"
    done = _python(home, "-c", PROBE, str(out), *args, **variables)
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(f"{name}.") for m in modules)


@pytest.mark.parametrize("command", [["status"], ["releases", "mybot"], ["status", "--json"]])
def test_a_read_command_imports_no_adapter_it_does_not_use(home: Path, command: list[str]) -> None:
    _imported(home, "status")  # a new database is created and migrated on first use

    modules = _imported(home, *command)

    assert "chatops.adapters.db.plain_reads" in modules  # it did read the database
    assert [name for name in UNUSED if _loaded(modules, name)] == []


def _deployment(home: Path, deployment_id: int) -> Deployment:
    store = SqlStore(f"sqlite:///{home / 'chatops.db'}")
    try:
        with store.uow() as uow:
            found = uow.deployments.get(deployment_id)
    finally:
        store.dispose()
    assert found is not None
    return found


def test_with_slack_configured_a_read_command_tells_slack_nothing_when_nothing_waits(
    home: Path,
) -> None:
    _imported(home, "status")
    slack = {"SLACK_BOT_TOKEN": "xoxb-unused", "SLACK_API_URL": "http://127.0.0.1:9/api/"}

    for command in (["status"], ["releases", "mybot"]):
        modules = _imported(home, *command, **slack)
        assert [name for name in UNUSED if _loaded(modules, name)] == []


def _seed_orphan(home: Path) -> int:
    """A build left under way by a process that is gone (no owner, no sign of life)."""
    store = SqlStore(f"sqlite:///{home / 'chatops.db'}")
    at = datetime.now(UTC) - timedelta(hours=1)
    try:
        with store.uow() as uow:
            added = uow.deployments.add(
                Deployment("mybot", "staging", Kind.DEPLOY, State.BUILDING, "UDEV", at, at)
            )
            uow.commit()
    finally:
        store.dispose()
    assert added.id is not None
    return added.id


def test_status_recovers_a_deployment_left_under_way_before_it_answers(home: Path) -> None:
    _imported(home, "status")
    orphan = _seed_orphan(home)

    modules = _imported(home, "status", "--json")  # reads it under way: recovers, reads again
    shown = _run(home, "status", "--json")

    assert "chatops.services.recovery" in modules
    assert json.loads(shown.stdout) == []  # nothing live, nothing under way any more
    history = json.loads(_run(home, "releases", "mybot", "--json").stdout)
    assert history == []  # (it never built)
    ended = _deployment(home, orphan)
    assert ended.state is State.FAILED
    assert "interrupted" in (ended.reason or "")
    assert "chatops.services.recovery" not in _imported(home, "status")  # nothing left to do


def test_a_database_behind_this_chatops_is_refused_with_the_upgrade_command(
    home: Path,
) -> None:
    schema.upgrade(f"sqlite:///{home / 'chatops.db'}", "0005_verify")

    for command in (["status"], ["releases", "mybot"]):
        refused = _run(home, *command, check=False)
        assert refused.returncode == 1, refused.stderr
        assert "chatops db upgrade" in refused.stderr
    assert schema.current(f"sqlite:///{home / 'chatops.db'}") == "0005_verify"  # left alone


def _run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = _python(home, "-m", "chatops", *args)
    if check:
        assert done.returncode == 0, done.stderr
    return done
