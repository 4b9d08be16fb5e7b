"""Shared set-up of the benchmarks: the engine and registry, a sample bot repo, a chatops config.

Uses DOCKER_HOST and CHATOPS_BENCH_REGISTRY when set; otherwise (as root, with
Debian's docker.io and docker-registry) starts private ones on 127.0.0.1 and
stops them at the end.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chatops.adapters import local_services
from chatops.adapters.db.schema import upgrade
from chatops.bootstrap import Application, build
from chatops.config import load
from chatops.entrypoints.sample import write_sample_bot

GIT = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT},
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Bench:
    root: Path
    docker_host: str
    registry: str
    remote: Path
    work: Path
    config: Path
    bot: str = "benchbot"
    ports: dict[str, int] | None = None

    def commit(self, message: str) -> str:
        write_sample_bot(self.work, message=message)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def application(self, **kwargs: Any) -> Application:
        return build(load(self.config), **kwargs)


@contextmanager
def bench_environment(*, environments: dict[str, dict[str, Any]] | None = None) -> Iterator[Bench]:
    """Services, a bot repo with one commit, and a migrated SQLite chatops config."""
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="chatops-bench-"))
        stack.callback(shutil.rmtree, root, True)
        docker_host = os.environ.get("DOCKER_HOST")
        if not docker_host:
            engine = local_services.start_dockerd(root / "docker")
            stack.callback(engine.stop)
            docker_host = engine.env["DOCKER_HOST"]
        registry = os.environ.get("CHATOPS_BENCH_REGISTRY")
        if not registry:
            service = local_services.start_registry(root / "registry")
            stack.callback(service.stop)
            registry = service.env["REGISTRY"]
        remote = root / "remote" / "benchbot.git"
        remote.mkdir(parents=True)
        git("init", "-q", "--bare", "-b", "main", str(remote), cwd=root)
        work = root / "work"
        work.mkdir()
        git("init", "-q", "-b", "main", cwd=work)
        git("remote", "add", "origin", str(remote), cwd=work)
        envs = environments or {"staging": {}}
        ports = {name: local_services.free_port() for name in envs}
        document = {
            "database_url": "sqlite:///chatops.db",
            "workdir": "state",
            "registry": registry,
            "environments": {
                name: {"network": "host", "docker_host": docker_host, **extra}
                for name, extra in envs.items()
            },
            "bots": {
                "benchbot": {
                    "repo": str(remote),
                    "health_timeout_seconds": 60,
                    "environments": {
                        name: {"env": {"PORT": str(port)}} for name, port in ports.items()
                    },
                }
            },
        }
        config = root / "chatops.yaml"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        upgrade(load(config).file.database_url)
        bench = Bench(root, docker_host, registry, remote, work, config, ports=ports)
        bench.commit("first")

        def remove_containers() -> None:
            import docker

            client = docker.DockerClient(base_url=docker_host)
            for container in client.containers.list(
                all=True, filters={"label": "chatops.bot=benchbot"}
            ):
                container.remove(force=True)
            for name in ("hand-staging", "hand-staging-old"):
                with suppress(docker.errors.NotFound):
                    client.containers.get(name).remove(force=True)
            client.close()

        stack.callback(remove_containers)
        yield bench
