"""deploy/systemd/: the unit passes `systemd-analyze verify` and its offline security review,
runs commands the CLI has, stops within serve's drain, and its env file names real settings.

systemd is not running in the test container, but systemd-analyze reads unit files offline.
Its check that ExecStart's program exists is satisfied by pointing a copy of the unit at
this checkout's `chatops` instead of /opt/chatops/bin/chatops.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chatops.config import load_settings
from tests.deploy.conftest import (
    DEPLOY,
    STOP_GRACE_SECONDS,
    chatops_argv,
    cli_command,
    default_port,
    serve_drain_seconds,
    variable_known,
)

UNIT = DEPLOY / "systemd" / "chatops.service"
ENV = DEPLOY / "systemd" / "chatops.env"
INSTALLED = "/opt/chatops/bin/chatops"
# the most `systemd-analyze security` may find exposed (0 best, 10 worst; "OK" is below 4)
MAX_EXPOSURE = 2.0


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is not installed: `apt-get install systemd`", pytrace=False)
    return path


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's chatops."""
    here = Path(sys.executable).parent / "chatops"
    assert here.exists(), f"{here}: install chatops in this environment (scripts/dev setup)"
    copy = tmp_path / "chatops.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(here)))
    return copy


def test_systemd_analyze_verifies_the_unit(unit_here: Path) -> None:
    result = subprocess.run(
        [_systemd_analyze(), "verify", str(unit_here)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_the_unit_is_hardened(unit_here: Path) -> None:
    result = subprocess.run(
        [_systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit_here)],
        capture_output=True,
        text=True,
        check=False,
    )

    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout
    service = _unit()["Service"]
    assert service["User"] == "chatops" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["SupplementaryGroups"] == "docker", "the Docker socket's group, nothing more"
    assert service["CapabilityBoundingSet"] == ""


def test_it_migrates_then_serves_with_commands_the_cli_has() -> None:
    service = _unit()["Service"]

    for key, expected in (("ExecStartPre", ["db", "upgrade"]), ("ExecStart", ["serve"])):
        line = service[key]
        assert line.split()[0] == INSTALLED
        assert chatops_argv(line) == expected
        cli_command(expected)
    assert service["EnvironmentFile"] == "/etc/chatops/env"
    assert "CHATOPS_CONFIG=/etc/chatops/chatops.yaml" in service["Environment"].split()


def test_it_stops_within_serves_drain_and_restarts_only_what_a_restart_can_mend(
    tmp_path: Path,
) -> None:
    service = _unit()["Service"]
    assert service["TimeoutStopSec"] == f"{STOP_GRACE_SECONDS}s"
    assert serve_drain_seconds() < STOP_GRACE_SECONDS
    assert service["KillMode"] == "mixed"
    assert service["Restart"] == "on-failure"
    # a bad configuration exits 2, which systemd is told not to restart
    bad = tmp_path / "chatops.yaml"
    bad.write_text("environments: {staging: {runtime: kubernetes}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "--config", str(bad), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == int(service["RestartPreventExitStatus"]) == 2, result.stderr


def _env_names() -> list[str]:
    names = []
    for line in ENV.read_text().splitlines():
        found = re.match(r"#?([A-Z][A-Z0-9_]*)=", line)
        if found:
            names.append(found.group(1))
    return sorted(set(names))


@pytest.mark.parametrize("name", _env_names())
def test_each_variable_of_the_env_file_is_a_setting(name: str) -> None:
    assert variable_known(name), f"{name} is not a setting of chatops (config.Settings)"


def test_the_env_file_as_shipped_is_valid_settings() -> None:
    settings = load_settings(env_file=ENV)

    assert settings.chatops_http_host == "127.0.0.1"
    assert settings.chatops_http_port == default_port()
    assert settings.chatops_database_url == "sqlite:////var/lib/chatops/chatops.db"


def test_the_monitoring_files_name_the_unit_and_its_files() -> None:
    monitoring = DEPLOY / "monitoring"
    assert "systemctl status chatops" in (monitoring / "chatops-rules.yml").read_text()
    assert UNIT.name == "chatops.service"
    readme = (monitoring / "README.md").read_text()
    assert "/etc/chatops/env" in readme and "/etc/chatops/alert-token" in readme
    assert (
        "credentials_file: /etc/chatops/alert-token"
        in (monitoring / "alertmanager.yml").read_text()
    )
