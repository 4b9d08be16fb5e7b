"""docs/operations.md's `runnable` shell blocks work as written, and `chatops backup` makes
copies that restore every release (SQLite and PostgreSQL).

Each group of blocks (```` ```sh runnable GROUP ````) runs in order under `bash -euo pipefail`,
from the checkout, in a sandbox: the paths /etc/chatops, /var/lib/chatops and
/var/backups/chatops in a block are replaced by directories of the test's own, and
`chatops` is this checkout's. Between the backup and the restore the test loses the
database, so the restore has to bring the releases back from the copy.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
import yaml

from chatops.adapters.db import schema
from chatops.adapters.db.uow import SqlStore
from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.deployment import Deployment, Kind, Release, State
from tests.deploy.conftest import IMAGE_UID, ROOT

DOC = ROOT / "docs" / "operations.md"
BLOCK = re.compile(r"^```sh runnable (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
GROUPS = ("compose", "sqlite", "postgres")
SANDBOXED = ("/etc/chatops", "/var/lib/chatops", "/var/backups/chatops")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def blocks(group: str) -> list[str]:
    return [body for name, body in BLOCK.findall(DOC.read_text()) if name == group]


def test_every_runnable_block_is_in_a_group_these_tests_run() -> None:
    names = [name for name, _ in BLOCK.findall(DOC.read_text())]

    assert set(names) == set(GROUPS), names
    assert DOC.read_text().count("```sh runnable") == len(names), "a malformed runnable block"


@dataclass
class Sandbox:
    root: Path
    env: dict[str, str]

    def path(self, real: str) -> Path:
        return self.root / real.lstrip("/")

    def run(self, block: str) -> subprocess.CompletedProcess[str]:
        for real in SANDBOXED:
            block = block.replace(real, str(self.path(real)))
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{block}\n---\n{result.stdout}\n{result.stderr}"
        return result


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    for real in SANDBOXED:
        (tmp_path / real.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc" / "chatops").mkdir()
    (tmp_path / "var" / "lib" / "chatops").mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("CHATOPS_DATABASE_URL", None)
    env.pop("CHATOPS_CONFIG", None)
    before = _status()
    yield Sandbox(tmp_path, env)
    assert _status() == before, "a block wrote into the checkout"


def _status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_compose_blocks_make_the_secrets_compose_accepts(sandbox: Sandbox) -> None:
    etc = sandbox.path("/etc/chatops")
    sandbox.env["CHATOPS_ETC"] = str(etc)

    for block in blocks("compose"):
        sandbox.run(block)

    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    secrets = etc / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for secret in compose["secrets"].values():
        path = Path(secret["file"].replace("${CHATOPS_ETC:-/etc/chatops}", str(etc)))
        assert path.read_text().strip(), f"{path.name} is empty"
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.name == "pgpass":
            assert mode == 0o600
            assert path.stat().st_uid == IMAGE_UID, "libpq in the image reads it as uid 10001"
            assert path.read_text().startswith("postgres:5432:chatops:chatops:")
        else:
            assert mode == 0o444


# ── backup and restore ──────────────────────────────────────────────────────


def _seed(url: str) -> list[Release]:
    """Releases of two bots, each owned by a deployment that made it live."""
    schema.upgrade(url)
    store = SqlStore(url)
    made = []
    try:
        with store.uow() as uow:
            for bot, count in (("mybot", 3), ("otherbot", 2)):
                for version in range(1, count + 1):
                    owner = uow.deployments.add(
                        Deployment(
                            bot=bot,
                            env="staging",
                            kind=Kind.DEPLOY,
                            state=State.SUPERSEDED if version < count else State.LIVE,
                            requested_by="U0DEV1",
                            requested_at=T0,
                            updated_at=T0,
                            version=version,
                        )
                    )
                    made.append(
                        uow.releases.add(
                            Release(
                                bot=bot,
                                version=version,
                                commit=f"{version}{bot[0]}".ljust(40, "0"),
                                tag=f"{bot}/v{version}",
                                image=f"127.0.0.1:5000/{bot}:v{version}",
                                image_id="sha256:" + f"{version}".ljust(64, "b"),
                                digest="sha256:" + f"{version}".ljust(64, "c"),
                                created_by="U0DEV1",
                                created_at=T0,
                                deployment_id=owner.id,
                            )
                        )
                    )
            uow.commit()
    finally:
        store.dispose()
    return made


def _releases(url: str) -> list[Release]:
    store = SqlStore(url)
    try:
        with store.uow() as uow:
            return [r for bot in ("mybot", "otherbot") for r in reversed(uow.releases.list(bot))]
    finally:
        store.dispose()


def _config(sandbox: Sandbox, database_url: str) -> None:
    (sandbox.path("/etc/chatops") / "chatops.yaml").write_text(
        yaml.safe_dump(
            {
                "database_url": database_url,
                "workdir": str(sandbox.path("/var/lib/chatops") / "work"),
                "environments": {"staging": {}},
                "bots": {
                    bot: {"repo": f"https://git.example.com/acme/{bot}.git"}
                    for bot in ("mybot", "otherbot")
                },
            }
        )
    )


@contextlib.contextmanager
def _writing(url: str) -> Iterator[list[int]]:
    """Audit events written without pause while the block runs: the backup is taken online."""
    store = SqlStore(url)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            with store.uow() as uow:
                uow.audit.add(
                    AuditEvent(at=T0, actor="U0DEV1", action="status", outcome=Outcome.OK)
                )
                uow.commit()
            written[0] += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield written
    finally:
        stop.set()
        writer.join(timeout=30)
        store.dispose()


def test_the_sqlite_blocks_back_up_online_and_restore_every_release(sandbox: Sandbox) -> None:
    database = sandbox.path("/var/lib/chatops") / "chatops.db"
    url = f"sqlite:///{database}"
    _config(sandbox, url)
    made = _seed(url)
    backup, restore = blocks("sqlite")

    with _writing(url) as written:
        sandbox.run(backup)
    assert written[0] > 0, "the database was written to while it was copied"
    [copy] = sandbox.path("/var/backups/chatops").glob("chatops-*.db")
    # the database is lost: its file and its write-ahead log are garbage now
    for path in (database, database.with_name("chatops.db-wal")):
        path.write_bytes(b"lost" * 1024)
    result = sandbox.run(restore)

    assert _releases(url) == made
    assert "v3" in result.stdout
    assert copy.exists()


def test_the_postgres_blocks_back_up_and_restore_every_release(
    sandbox: Sandbox, postgres_url: str
) -> None:
    _config(sandbox, postgres_url)
    made = _seed(postgres_url)
    backup, restore = blocks("postgres")
    parts = sqlalchemy.make_url(postgres_url)
    sandbox.env |= {
        "PGHOST": str(parts.host),
        "PGPORT": str(parts.port),
        "PGUSER": str(parts.username),
        "PGDATABASE": str(parts.database),
    }

    with _writing(postgres_url):
        sandbox.run(backup)
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:  # the data is lost
        connection.execute(sqlalchemy.text("TRUNCATE releases, deployments CASCADE"))
    engine.dispose()
    assert _releases(postgres_url) == []
    result = sandbox.run(restore)

    assert _releases(postgres_url) == made
    assert "v3" in result.stdout
