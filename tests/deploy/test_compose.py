"""deploy/compose.yaml: valid for Debian's docker-compose 1.29, consistent with chatops and
with deploy/monitoring, and its chatops service starts here.

Only chatops' own image exists on the test engine (no public registry can be reached), so
`up` starts the migration and chatops alone (`--no-deps`), on SQLite in its volume, with
secrets made the way docs/operations.md makes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatops import __version__
from chatops.adapters.local_services import free_port
from tests.deploy.conftest import (
    DEPLOY,
    IMAGE,
    IMAGE_UID,
    STOP_GRACE_SECONDS,
    cli_command,
    http_routes,
    serve_drain_seconds,
    variable_known,
)

COMPOSE = DEPLOY / "compose.yaml"
SECRETS = {
    "pgpass": "pgpass",
    "postgres_password": "postgres-password",
    "slack_bot_token": "slack-bot-token",
    "slack_signing_secret": "slack-signing-secret",
    "alert_token": "alert-token",
    "metrics_token": "metrics-token",
    "git_webhook_secret": "git-webhook-secret",
    "grafana_admin_password": "grafana-admin-password",
}


def _docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "docker-compose is not installed: `apt-get install docker-compose` (Debian's 1.29)",
            pytrace=False,
        )
    return path


def _etc(root: Path) -> Path:
    """/etc/chatops as docs/operations.md makes it: chatops.yaml and one file per secret."""
    (root / "secrets").mkdir(parents=True)
    (root / "secrets").chmod(0o700)
    for name, file in SECRETS.items():
        path = root / "secrets" / file
        path.write_text(f"test-{name}\n")
        path.chmod(0o444)
    pgpass = root / "secrets" / "pgpass"
    pgpass.write_text("postgres:5432:chatops:chatops:test-postgres_password\n")
    pgpass.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(pgpass, IMAGE_UID, -1)
    (root / "chatops.yaml").write_text(
        "workdir: /var/lib/chatops/work\nenvironments:\n  staging: {network: host}\n"
    )
    return root


@dataclass
class Compose:
    files: list[Path]
    env: dict[str, str]
    project: str

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        files = [arg for f in self.files for arg in ("-f", str(f))]
        return subprocess.run(
            [_docker_compose(), "--no-ansi", "-p", self.project, *files, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def config(self) -> dict[str, Any]:
        result = self("config")
        assert result.returncode == 0, result.stderr
        loaded: dict[str, Any] = yaml.safe_load(result.stdout)
        return loaded


@pytest.fixture
def compose(tmp_path: Path) -> Compose:
    env = {
        **os.environ,
        "CHATOPS_ETC": str(_etc(tmp_path / "etc")),
        "DOCKER_GID": "999",
    }
    return Compose([COMPOSE], env, f"chatops{uuid.uuid4().hex[:8]}")


def test_docker_compose_accepts_the_file(compose: Compose) -> None:
    result = compose("config", "--quiet")

    assert result.returncode == 0, result.stderr


def test_without_the_docker_group_compose_says_what_to_set(compose: Compose) -> None:
    del compose.env["DOCKER_GID"]

    result = compose("config", "--quiet")

    assert result.returncode != 0
    assert "DOCKER_GID" in result.stderr and "stat -c %g" in result.stderr


def test_chatops_and_its_migration_use_the_real_cli_image_and_grace(compose: Compose) -> None:
    services = compose.config()["services"]
    chatops, migrate = services["chatops"], services["migrate"]

    assert chatops["image"] == migrate["image"] == IMAGE
    assert "command" not in chatops, "chatops runs the image's default command (serve)"
    cli_command(migrate["command"])
    assert migrate["command"] == ["db", "upgrade"]
    assert chatops["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert chatops["stop_grace_period"] == f"{STOP_GRACE_SECONDS}s"
    assert serve_drain_seconds() < STOP_GRACE_SECONDS
    assert chatops["group_add"] == ["999"]
    assert "/var/run/docker.sock" in {v.split(":")[1] for v in chatops["volumes"]}
    assert f"CHATOPS_VERSION:-{__version__}" in COMPOSE.read_text()


def test_every_port_is_published_on_loopback_only(compose: Compose) -> None:
    for name, service in compose.config()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def _chatops_variables() -> list[str]:
    raw = yaml.safe_load(COMPOSE.read_text())
    services = raw["services"]
    return sorted(set(services["chatops"]["environment"]) | set(services["migrate"]["environment"]))


@pytest.mark.parametrize("name", _chatops_variables())
def test_each_variable_is_one_chatops_reads(name: str) -> None:
    assert variable_known(name), f"{name} is not a setting of chatops (config.Settings)"


def test_each_secret_file_variable_names_a_secret_the_service_mounts(compose: Compose) -> None:
    config = compose.config()
    for service in ("chatops", "migrate"):
        mounted = {s["source"] for s in config["services"][service].get("secrets", [])}
        for name, value in config["services"][service]["environment"].items():
            if name.endswith("_FILE") or name == "PGPASSFILE":
                secret = value.removeprefix("/run/secrets/")
                assert secret in mounted, f"{service}: {name} names {value}, not mounted"
    assert set(config["secrets"]) == set(SECRETS)
    for name, secret in config["secrets"].items():
        assert secret["file"].endswith(f"/secrets/{SECRETS[name]}")


def test_the_monitoring_services_load_the_shipped_files(compose: Compose) -> None:
    services = compose.config()["services"]
    for name in ("prometheus", "alertmanager", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("/"):
                assert Path(source).is_file(), f"{name} mounts {source}, which is missing"
    prometheus = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    [job] = prometheus["scrape_configs"]
    assert job["metrics_path"] in http_routes()
    assert job["static_configs"][0]["targets"] == ["chatops:3000"]
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    alertmanager = yaml.safe_load((DEPLOY / "compose" / "alertmanager.yml").read_text())
    [receiver] = [r for r in alertmanager["receivers"] if r["name"] == "chatops"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"] == "http://chatops:3000/alerts/alertmanager"
    assert "/alerts/alertmanager" in http_routes()
    token = webhook["http_config"]["authorization"]["credentials_file"]
    assert token == "/run/secrets/alert_token"


def _without_addresses(document: Any) -> Any:
    """A monitoring config with its addresses and credentials' paths blanked."""
    if isinstance(document, dict):
        return {
            key: "…" if key in {"url", "targets", "credentials_file"} else _without_addresses(value)
            for key, value in document.items()
            if key != "authorization" or "credentials_file" not in value
        }
    if isinstance(document, list):
        return [_without_addresses(item) for item in document]
    return document


@pytest.mark.parametrize("name", ["prometheus.yml", "alertmanager.yml"])
def test_the_compose_monitoring_configs_are_the_shipped_ones_but_for_addresses(name: str) -> None:
    shipped = yaml.safe_load((DEPLOY / "monitoring" / name).read_text())
    composed = yaml.safe_load((DEPLOY / "compose" / name).read_text())

    assert _without_addresses(composed) == _without_addresses(shipped)


def test_promtool_and_amtool_accept_the_compose_configs(tmp_path: Path) -> None:
    for rules in ("chatops-rules.yml", "bot-rules.example.yml"):
        shutil.copy(DEPLOY / "monitoring" / rules, tmp_path / rules)
    (tmp_path / "metrics_token").write_text("token\n")
    text = (DEPLOY / "compose" / "prometheus.yml").read_text()
    (tmp_path / "prometheus.yml").write_text(
        text.replace("/run/secrets/metrics_token", str(tmp_path / "metrics_token"))
    )
    for argv in (
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
        ["amtool", "check-config", str(DEPLOY / "compose" / "alertmanager.yml")],
    ):
        if shutil.which(argv[0]) is None:
            pytest.fail(f"{argv[0]} is not installed (Debian: prometheus, prometheus-alertmanager)")
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_is_provisioned_with_the_dashboard() -> None:
    datasources = yaml.safe_load((DEPLOY / "compose" / "grafana" / "datasources.yml").read_text())
    [prometheus] = datasources["datasources"]
    assert (prometheus["type"], prometheus["url"]) == ("prometheus", "http://prometheus:9090")
    dashboards = yaml.safe_load((DEPLOY / "compose" / "grafana" / "dashboards.yml").read_text())
    [provider] = dashboards["providers"]
    raw = yaml.safe_load(COMPOSE.read_text())
    mounts = dict(v.split(":")[:2] for v in raw["services"]["grafana"]["volumes"])
    assert mounts["./monitoring/grafana-dashboard.json"].startswith(provider["options"]["path"])


# ── started here ────────────────────────────────────────────────────────────


@dataclass
class Up:
    compose: Compose
    url: str
    etc: Path


@pytest.fixture(scope="module")
def up(
    chatops_image: str, docker_host: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Up]:
    """`migrate` then `chatops` from deploy/compose.yaml, on SQLite in chatops' volume."""
    root = tmp_path_factory.mktemp("compose")
    etc = _etc(root / "etc")
    # Slack cannot be reached from here, and serve checks a bot token with Slack as it starts:
    # empty secrets count as unset (DESIGN §5), so chatops serves without Slack
    for name in ("slack-bot-token", "slack-signing-secret"):
        (etc / "secrets" / name).chmod(0o644)
        (etc / "secrets" / name).write_text("")
    override = root / "sqlite.yaml"
    sqlite = "sqlite:////var/lib/chatops/chatops.db"
    override.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "migrate": {"environment": {"CHATOPS_DATABASE_URL": sqlite}},
                    "chatops": {"environment": {"CHATOPS_DATABASE_URL": sqlite}},
                }
            }
        )
    )
    port = free_port()
    env = {**os.environ, "DOCKER_HOST": docker_host, "CHATOPS_ETC": str(etc)}
    env["CHATOPS_PORT"] = str(port)
    if docker_host.startswith("unix://"):
        socket = docker_host.removeprefix("unix://")
        env["DOCKER_SOCKET"] = socket
        env["DOCKER_GID"] = str(os.stat(socket).st_gid)
    else:
        env["DOCKER_GID"] = "0"
    compose = Compose([COMPOSE, override], env, f"chatops{uuid.uuid4().hex[:8]}")
    try:
        migrated = compose("run", "--rm", "--no-deps", "migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        started = compose("up", "--detach", "--no-deps", "chatops")
        assert started.returncode == 0, started.stdout + started.stderr
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                logs = compose("logs", "chatops").stdout
                raise AssertionError(f"chatops from compose did not answer /healthz:\n{logs}")
            time.sleep(0.25)
        yield Up(compose, url, etc)
    finally:
        compose("down", "--volumes", "--timeout", "10")


@pytest.mark.slow
def test_compose_starts_chatops_migrated_non_root_and_on_the_engine(up: Up) -> None:
    ready = httpx.get(f"{up.url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["database"] == "ok", "migrated by the one-off `migrate` service"

    probe = up.compose(
        "exec",
        "-T",
        "chatops",
        "python3",
        "-c",
        "import os, docker; docker.from_env().ping(); print(os.getuid())",
    )

    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert probe.stdout.strip() == str(IMAGE_UID), "non-root, yet it reaches the Docker socket"


@pytest.mark.slow
def test_secrets_reach_chatops_as_files(up: Up) -> None:
    alerts = f"{up.url}/alerts/alertmanager"
    payload = {"version": "4", "status": "firing", "alerts": []}

    wrong = httpx.post(alerts, json=payload, headers={"Authorization": "Bearer nope"}, timeout=5)
    right = httpx.post(
        alerts, json=payload, headers={"Authorization": "Bearer test-alert_token"}, timeout=5
    )

    assert wrong.status_code == 401
    assert right.status_code in (200, 202), right.text


@pytest.mark.slow
def test_metrics_need_the_token_from_its_secret_file(up: Up) -> None:
    bare = httpx.get(f"{up.url}/metrics", timeout=5)
    given = httpx.get(
        f"{up.url}/metrics", headers={"Authorization": "Bearer test-metrics_token"}, timeout=5
    )

    assert bare.status_code == 401
    assert given.status_code == 200 and "chatops_" in given.text
