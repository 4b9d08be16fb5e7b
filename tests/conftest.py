"""Shared fixtures: the real services (Docker Engine, registry, PostgreSQL) and sample bot repos.

The services come from the environment when `.ci/run` (or a developer) started
them — CHATOPS_TEST_DOCKER_HOST, CHATOPS_TEST_REGISTRY, CHATOPS_TEST_POSTGRES_URL —
and are otherwise started here, privately on loopback, for the session.
A service that cannot be had fails the tests that need it, with what to install.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatops.adapters import local_services
from chatops.entrypoints.sample import write_sample_bot

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Dev",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Dev",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# with pytest-xdist (`scripts/dev test`), each worker starts its own services; these run on
# one worker: the swarm tests make that worker's engine a swarm manager (two swarms on one
# host would share ports), and the deploy tests share chatops' own image, built once
_ONE_WORKER = {"tests/integration/test_swarm_runtime.py": "swarm", "tests/deploy/": "deploy"}


def _stop_cleanly(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (a CI job cancelled, `kill` of the run's process group) ends the run the way
    # Ctrl-C does: fixtures are torn down, so the private dockerd, registry and PostgreSQL
    # each worker started are stopped instead of being left behind
    signal.signal(signal.SIGTERM, _stop_cleanly)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "docker_host" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
        where = item.nodeid.split("::")[0]
        for prefix, group in _ONE_WORKER.items():
            if where.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def services_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


# the services this session started, by their address: the ones fault tests may restart
started_services: dict[str, local_services.LocalService] = {}


def _service(env_var: str, key: str, start: object, root: Path) -> Iterator[str]:
    given = os.environ.get(env_var)
    if given:
        yield given
        return
    try:
        service = start(root)  # type: ignore[operator]
    except local_services.ServiceUnavailable as exc:
        pytest.fail(f"{env_var} is not set and the service could not be started: {exc}")
    started_services[service.env[key]] = service
    try:
        yield service.env[key]
    finally:
        started_services.pop(service.env[key], None)
        service.stop()


def restartable(address: str) -> local_services.LocalService:
    """The service this session started at `address`; skips a test when it came from outside
    (CHATOPS_TEST_*), since only what the session started may be restarted under it."""
    service = started_services.get(address)
    if service is None:
        pytest.skip(f"{address} was not started by this test session, so it is not restarted")
    return service


@pytest.fixture(scope="session")
def docker_host(services_root: Path) -> Iterator[str]:
    """DOCKER_HOST of a real Docker Engine."""
    yield from _service(
        "CHATOPS_TEST_DOCKER_HOST",
        "DOCKER_HOST",
        local_services.start_dockerd,
        services_root / "docker",
    )


@pytest.fixture(scope="session")
def registry(services_root: Path) -> Iterator[str]:
    """host:port of a real registry on 127.0.0.1."""
    yield from _service(
        "CHATOPS_TEST_REGISTRY",
        "REGISTRY",
        local_services.start_registry,
        services_root / "registry",
    )


@pytest.fixture(scope="session")
def postgres_server(services_root: Path) -> Iterator[str]:
    yield from _service(
        "CHATOPS_TEST_POSTGRES_URL",
        "POSTGRES_URL",
        local_services.start_postgres,
        services_root / "postgres",
    )


_db_counter = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    import sqlalchemy

    name = f"chatops_test_{os.getpid()}_{next(_db_counter)}"
    # pre-ping: a fault test may restart the server while this test runs
    admin = sqlalchemy.create_engine(
        postgres_server, isolation_level="AUTOCOMMIT", pool_pre_ping=True
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class BotRepo:
    """A bot's work tree with a local bare repository as its remote."""

    work: Path
    remote: Path

    def commit(
        self,
        message: str,
        *,
        healthy: bool = True,
        text: str | None = None,
        files: dict[str, str] | None = None,
    ) -> str:
        """Rewrite the sample bot, commit, push; return the new commit sha."""
        write_sample_bot(self.work, message=text or message, healthy=healthy)
        for name, content in (files or {}).items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.work)

    def remote_tags(self) -> dict[str, str]:
        """tag name → the commit it points to, as the remote has them."""
        out = git(
            "for-each-ref",
            "--format=%(refname:short) %(*objectname) %(objectname)",
            "refs/tags",
            cwd=self.remote,
        )
        tags = {}
        for line in out.splitlines():
            parts = line.split()
            tags[parts[0]] = parts[1] if len(parts) == 3 else parts[-1]
        return tags


@pytest.fixture
def bot_repo(tmp_path: Path) -> BotRepo:
    """The sample bot, one healthy commit on `main`, pushed to a bare remote."""
    remote = tmp_path / "remote" / "mybot.git"
    remote.mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(remote), cwd=tmp_path)
    work = tmp_path / "work" / "mybot"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    repo = BotRepo(work=work, remote=remote)
    repo.commit("first version")
    return repo
