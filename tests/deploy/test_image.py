"""chatops' own image (deploy/Dockerfile, built by `scripts/dev image`) does its job.

Run on the test engine with host networking, against the test PostgreSQL and the engine's
socket mounted as the image's docs say: migrations as a one-off, a deploy of the sample bot
through the image's CLI, and `serve` as a non-root user that answers /healthz and /readyz,
reports healthy through its own HEALTHCHECK and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import yaml

from chatops.adapters.local_services import free_port
from tests.conftest import BotRepo, git
from tests.deploy.conftest import IMAGE_UID, STOP_GRACE_SECONDS, cli_command

pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Container:
    """chatops' image run the documented way: config and socket mounted, host network."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        *,
        docker_host: str,
        config: Path,
        mounts: list[Path],
        env: dict[str, str],
    ) -> None:
        self.client = client
        self.image = image
        self.volumes = {str(config): {"bind": "/etc/chatops/chatops.yaml", "mode": "ro"}}
        self.volumes.update({str(p): {"bind": str(p), "mode": "rw"} for p in mounts})
        self.env = dict(env)
        self.group_add: list[str] = []
        if docker_host.startswith("unix://"):
            socket = docker_host.removeprefix("unix://")
            self.volumes[socket] = {"bind": "/var/run/docker.sock", "mode": "rw"}
            self.group_add = [str(os.stat(socket).st_gid)]
        else:
            self.env["DOCKER_HOST"] = docker_host
        self.started: list[Any] = []

    def start(self, *args: str, **options: Any) -> Any:
        container = self.client.containers.run(
            self.image,
            list(args) or None,
            detach=True,
            network_mode="host",
            environment=self.env | options.pop("environment", {}),
            volumes=self.volumes,
            group_add=self.group_add,
            **options,
        )
        self.started.append(container)
        return container

    def run(self, *args: str, timeout: float = 300) -> tuple[int, str, str]:
        container = self.start(*args)
        code = container.wait(timeout=timeout)["StatusCode"]
        out = container.logs(stdout=True, stderr=False).decode(errors="replace")
        err = container.logs(stdout=False, stderr=True).decode(errors="replace")
        return code, out, err

    def remove_all(self) -> None:
        for container in self.started:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


@pytest.fixture
def engine(docker_host: str) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=docker_host)
    yield client
    client.close()


def test_the_image_migrates_deploys_the_sample_bot_and_serves_as_non_root(
    chatops_image: str,
    engine: docker.DockerClient,
    docker_host: str,
    registry: str,
    postgres_url: str,
    bot_repo: BotRepo,
    tmp_path: Path,
) -> None:
    bot = f"img{uuid.uuid4().hex[:8]}"
    attrs = engine.images.get(chatops_image).attrs["Config"]
    assert attrs["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert attrs["Entrypoint"] == ["tini", "--", "chatops"]
    assert attrs["Cmd"] == ["serve"]
    cli_command(attrs["Cmd"])
    assert "/healthz" in " ".join(attrs["Healthcheck"]["Test"])
    assert "3000/tcp" in attrs["ExposedPorts"]
    # the bot's remote is a path on this host: mounted at the same path, writable by the image's
    # user (chatops pushes its tags there)
    for path in [bot_repo.remote, *bot_repo.remote.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    config = tmp_path / "chatops.yaml"
    port = free_port()
    config.write_text(
        yaml.safe_dump(
            {
                "workdir": "/var/lib/chatops/work",
                "registry": registry,
                "environments": {"staging": {"network": "host"}},
                "bots": {
                    bot: {
                        "repo": str(bot_repo.remote),
                        "health_timeout_seconds": 60,
                        "environments": {"staging": {"env": {"PORT": str(port)}}},
                    }
                },
            }
        )
    )
    box = Container(
        engine,
        chatops_image,
        docker_host=docker_host,
        config=config,
        mounts=[bot_repo.remote],
        env={"CHATOPS_DATABASE_URL": postgres_url, "USER": "UDEV"},
    )
    try:
        code, _, err = box.run("db", "upgrade")
        assert code == 0, err

        code, out, err = box.run("deploy", bot, "staging", "--json")

        assert code == 0, err
        deployed = json.loads(out)
        assert (deployed["state"], deployed["version"]) == ("live", 1), deployed
        running = engine.containers.get(f"{bot}-staging")
        assert running.labels["chatops.release"] == "v1"
        assert running.attrs["State"]["Health"]["Status"] == "healthy"
        tagged = git(
            "-c", "safe.directory=*", "rev-parse", f"{bot}/v1^{{commit}}", cwd=bot_repo.remote
        )
        assert tagged == bot_repo.head(), "the release tag was pushed from inside the image"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text.startswith("first version")

        http_port = free_port()
        server = box.start(
            environment={"CHATOPS_HTTP_HOST": "127.0.0.1", "CHATOPS_HTTP_PORT": str(http_port)},
            # the image's own HEALTHCHECK command, checked every second rather than 30 s
            healthcheck={"interval": 1_000_000_000, "timeout": 5_000_000_000, "retries": 3},
        )
        url = f"http://127.0.0.1:{http_port}"

        def answers() -> bool:
            server.reload()
            assert server.status in ("created", "running"), server.logs().decode()
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            return False

        _wait(answers, 120, "serve in the image to answer /healthz")
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["database"] == "ok"
        _wait(
            lambda: server.reload() or server.attrs["State"]["Health"]["Status"] == "healthy",
            60,
            "the image's HEALTHCHECK to pass",
        )
        uid = server.exec_run(["id", "-u"]).output.decode().strip()
        assert uid == str(IMAGE_UID)
        status = server.exec_run(["cat", "/proc/1/status"]).output.decode()
        assert f"Uid:\t{IMAGE_UID}\t" in status, "PID 1 (tini) runs as the image's user too"

        started = time.monotonic()
        server.stop(timeout=STOP_GRACE_SECONDS)

        assert server.wait(timeout=10)["StatusCode"] == 0, server.logs().decode()
        assert time.monotonic() - started < STOP_GRACE_SECONDS
    finally:
        box.remove_all()
        for leftover in engine.containers.list(all=True, filters={"label": f"chatops.bot={bot}"}):
            leftover.remove(force=True)
        for image in engine.images.list(filters={"label": f"chatops.bot={bot}"}):
            with contextlib.suppress(docker.errors.APIError):
                engine.images.remove(image.id, force=True)
