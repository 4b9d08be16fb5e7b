"""A chatops installation for whole-flow tests: a config, a database, the real engine and registry.

Each test gets its own bot name (so container names never clash), its own
ports, and a clean-up that removes every container of that bot even when the
test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from chatops.adapters.local_services import free_port
from tests.conftest import BotRepo


@dataclass
class Installation:
    """chatops configured for one test, driven through its CLI as a user would."""

    path: Path
    bot: str
    repo: BotRepo
    env: dict[str, str]
    docker: docker.DockerClient
    registry: str | None
    ports: dict[str, int]
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.path / "chatops.yaml"

    def write_config(self) -> None:
        self.config.write_text(yaml.safe_dump(self.document, sort_keys=False))

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "chatops", "--config", str(self.config), *args]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.stdout, f"no output from {args}: {result.stderr}"
        return json.loads(result.stdout)

    def container(self, env: str) -> Any:
        return self.docker.containers.get(f"{self.bot}-{env}")

    def running_release(self, env: str) -> str | None:
        try:
            container = self.container(env)
        except docker.errors.NotFound:
            return None
        container.reload()
        if container.status != "running":
            return None
        return str(container.labels.get("chatops.release"))

    def health(self, env: str) -> str:
        container = self.container(env)
        container.reload()
        return str(container.attrs["State"].get("Health", {}).get("Status", "none"))

    def registry_labels(self, tag: str) -> dict[str, str]:
        """The labels of `<bot>:<tag>` as the registry serves them (manifest → config blob)."""
        assert self.registry
        accept = "application/vnd.docker.distribution.manifest.v2+json"
        request = urllib.request.Request(
            f"http://{self.registry}/v2/{self.bot}/manifests/{tag}", headers={"Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback registry)
            manifest = json.load(response)
        blob = manifest["config"]["digest"]
        with urllib.request.urlopen(
            f"http://{self.registry}/v2/{self.bot}/blobs/{blob}", timeout=10
        ) as response:
            config = json.load(response)
        return dict(config["config"]["Labels"])

    def db_url(self) -> str:
        return str(self.document.get("database_url"))


def _document(
    bot: str, repo: BotRepo, *, docker_host: str, registry: str | None, ports: dict[str, int]
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "database_url": "sqlite:///chatops.db",
        "workdir": "work",
        "slack": {"channel": "C0DEPLOYS", "admins": ["UADMIN"]},
        "environments": {
            "staging": {"network": "host", "docker_host": docker_host},
            "prod": {
                "network": "host",
                "docker_host": docker_host,
                "promote_from": "staging",
                "approvals": 1,
                "approvers": ["ULEAD1", "ULEAD2"],
                "deployers": ["UDEV", "ULEAD1", "ULEAD2"],
            },
        },
        "bots": {
            bot: {
                "repo": str(repo.remote),
                "branch": "main",
                "health_timeout_seconds": 30,
                "environments": {env: {"env": {"PORT": str(port)}} for env, port in ports.items()},
            }
        },
    }
    if registry:
        document["registry"] = registry
    return document


@pytest.fixture
def installation(
    tmp_path: Path, docker_host: str, registry: str, bot_repo: BotRepo
) -> Iterator[Installation]:
    bot = f"b{uuid.uuid4().hex[:8]}"
    ports = {"staging": free_port(), "prod": free_port()}
    client = docker.DockerClient(base_url=docker_host)
    env = {
        **os.environ,
        "DOCKER_HOST": docker_host,
        "USER": "UDEV",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("CHATOPS_DATABASE_URL", None)
    env.pop("SLACK_BOT_TOKEN", None)
    home = tmp_path / "chatops"
    home.mkdir()
    found = Installation(
        path=home,
        bot=bot,
        repo=bot_repo,
        env=env,
        docker=client,
        registry=registry,
        ports=ports,
        document=_document(bot, bot_repo, docker_host=docker_host, registry=registry, ports=ports),
    )
    found.write_config()
    upgraded = found.run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    try:
        yield found
    finally:
        for container in client.containers.list(all=True, filters={"label": f"chatops.bot={bot}"}):
            container.remove(force=True)
        for image in client.images.list(filters={"label": f"chatops.bot={bot}"}):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image.id, force=True)
        client.close()
