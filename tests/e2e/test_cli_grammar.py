"""The CLI as a newcomer types it: one grammar, hints in its own syntax, each thing said once.

No engine is needed: these commands only read and write the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Installation

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
    "bots": {"mybot": {"repo": "https://git.invalid/acme/mybot.git", "branch": "main"}},
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
    return Home(tmp_path)


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


def test_version_and_flags_shown_as_flags(home: Home) -> None:
    from chatops import __version__

    version = home.run("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"chatops {__version__}")
    helped = home.run("--help")
    assert "<bool>" not in helped.stdout
    assert "-v, --verbose" in helped.stdout and "-q, --quiet" in helped.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("status", "mybot", "--config", "{config}", "--user", "U1", "--json"),
        ("--config", "{config}", "--json", "--user", "U1", "status", "mybot"),
        ("releases", "--json", "mybot", "--user", "U1", "--config", "{config}"),
        ("config", "check", "--config", "{config}", "--json", "--user", "U1"),
        ("db", "upgrade", "--json", "--config", "{config}"),
        ("audit", "--by", "UDEV", "--config", "{config}", "--json"),
    ],
)
def test_config_user_and_json_go_before_or_after_the_arguments(
    home: Home, tmp_path: Path, args: tuple[str, ...]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(home.path / "chatops.yaml")
    result = home.run(*(a.replace("{config}", config) for a in args), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ("-v", "status", "mybot"),
        ("status", "mybot", "-v"),
        ("status", "--verbose", "mybot"),
        ("db", "upgrade", "-v"),
    ],
)
def test_verbose_goes_before_or_after_the_command(home: Home, args: tuple[str, ...]) -> None:
    result = home.run(*args)  # the first command migrates the new database, and says so
    assert result.returncode == 0, result.stderr
    assert "INFO alembic.runtime.migration" in result.stderr


def test_quiet_goes_before_or_after_the_command(home: Home) -> None:
    for args in (
        ("-q", "lock", "mybot", "staging", "--reason", "x"),
        ("unlock", "mybot", "staging", "-q"),
    ):
        result = home.run(*args)
        assert result.returncode == 0, result.stderr
    without = home.run("status", "mybot")
    assert "INFO" not in without.stderr
    for flag in ("-q", "--quiet"):
        quiet = home.run("status", "mybot", flag, "--json")
        assert quiet.returncode == 0, quiet.stderr
        assert json.loads(quiet.stdout) == []  # nothing deployed, nothing locked


def test_audit_by_filters_by_person(home: Home) -> None:
    assert home.run("lock", "mybot", "staging", "--reason", "a", "--user", "UDEV").returncode == 0
    assert home.run("unlock", "mybot", "staging", "--user", "ULEAD1").returncode == 0
    mine = json.loads(home.run("audit", "--by", "ULEAD1", "--json").stdout)
    assert [(e["actor"], e["action"]) for e in mine] == [("ULEAD1", "unlock")]


def test_a_ref_given_twice_differently_is_bad_usage(home: Home) -> None:
    result = home.run("deploy", "mybot", "staging", "main", "--ref", "other")
    assert result.returncode == 2
    assert "two refs given: 'main' and 'other'" in result.stderr
    result = home.run("rollback", "mybot", "staging", "v2", "--to", "v3")
    assert result.returncode == 2
    assert "usage: chatops rollback BOT ENV [vN] [--reason R]" in result.stderr


def test_deploy_ref_and_rollback_version_as_arguments_with_a_reason(
    installation: Installation,
) -> None:
    i = installation
    assert i.run("deploy", i.bot, "staging").returncode == 0
    second = i.repo.commit("second version")
    deployed = i.json("deploy", i.bot, "staging", second[:12])
    assert (deployed["state"], deployed["version"]) == ("live", 2)

    back = i.json("rollback", i.bot, "staging", "v1", "--reason", "login is [red]broken")

    assert (back["state"], back["version"]) == ("live", 1)
    assert i.running_release("staging") == "v1"
    v2 = next(r for r in i.json("releases", i.bot) if r["version"] == 2)
    assert [(b["env"], b["by"], b["reason"]) for b in v2["rolled_back"]] == [
        ("staging", "UDEV", "login is [red]broken")
    ]
    table = i.run("releases", i.bot)
    assert "v2 rolled back in staging by UDEV: login is [red]broken" in table.stdout
    [event] = [e for e in i.json("audit", "--by", "UDEV") if e["action"] == "rollback"]
    assert event["detail"] == "to v1: login is [red]broken"
    [row] = i.json("status", i.bot)
    assert row["lock"] is None
    assert row["hold"] is None  # staging has no auto_deploy: nothing automatic to hold


def test_the_first_command_creates_and_migrates_a_new_database(home: Home) -> None:
    assert not (home.path / "chatops.db").exists()
    result = home.run("status", "--json")
    assert (result.returncode, json.loads(result.stdout)) == (0, []), result.stderr
    current = home.run("db", "current")
    assert current.returncode == 0
    assert "(head)" in current.stdout


IMPORTED = """
import json, sys
from chatops.entrypoints.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = ("alembic", "docker", "slack_sdk", "slack_bolt", "git", "apscheduler.schedulers")
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules if m.startswith(heavy)})))
"""


@pytest.mark.parametrize(
    "args",
    [
        ("status", "--json"),
        ("releases", "mybot", "--json"),
        ("lock", "mybot", "staging", "--reason", "x"),
    ],
)
def test_read_commands_import_only_what_they_use(home: Home, args: tuple[str, ...]) -> None:
    assert home.run("db", "upgrade").returncode == 0  # the schema check alone needs no Alembic
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, *args],
        capture_output=True,
        text=True,
        env=home.env,
        cwd=home.path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_config_check_names_missing_files_and_online_what_does_not_answer(home: Home) -> None:
    document = yaml.safe_load((home.path / "chatops.yaml").read_text())
    for env in ("staging", "prod"):
        document["environments"][env]["docker_host"] = "unix:///nonexistent/docker.sock"
    document["bots"]["mybot"]["repo"] = "/nonexistent/mybot.git"
    document["bots"]["mybot"]["environments"] = {
        "staging": {
            "env_file": "missing.env",
            "secrets": {"TOKEN": {"provider": "file", "path": "/nonexistent/token"}},
        }
    }
    (home.path / "chatops.yaml").write_text(yaml.safe_dump(document))

    offline = home.run("config", "check")
    assert offline.returncode == 1
    assert offline.stderr.splitlines()[1:] == [
        "  bots.mybot.repo: /nonexistent/mybot.git: no such directory",
        f"  bots.mybot.environments.staging.env_file: {home.path / 'missing.env'}: no such file",
        "  bots.mybot.environments.staging.secrets.TOKEN.path: /nonexistent/token: no such file",
    ]
    online = home.run("config", "check", "--online", "--json")
    assert online.returncode == 1
    problems = json.loads(online.stdout)["problems"]
    assert len(problems) == 5
    assert problems[3].startswith("bots.mybot: ")
    assert problems[4].startswith(
        "environments prod, staging: cannot reach the Docker Engine at "
        "unix:///nonexistent/docker.sock"
    )
