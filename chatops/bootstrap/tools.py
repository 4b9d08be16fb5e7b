"""What the operator commands reach in the adapters, so that entrypoints import none.

The database schema (`chatops db`), its backup, whether a Docker Engine answers
(`config check --online`, the demo) and the private Docker Engine the demo starts
when none does. Each imports its adapter when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chatops.bootstrap.adapters import source_control

if TYPE_CHECKING:
    from chatops.adapters.db.backup import Backup
    from chatops.adapters.local_services import LocalService

__all__ = [
    "ServiceUnavailable",
    "engine_answers",
    "free_port",
    "schema_head",
    "schema_revision",
    "source_control",
    "start_dockerd",
    "upgrade_schema",
    "write_backup",
]


class ServiceUnavailable(Exception):
    """A service could not be started here; the message says what to install."""


def upgrade_schema(url: str) -> None:
    """Migrate the database to the newest schema (creates a SQLite file if needed).

    Raises:
        StoreError: the database cannot be reached or a migration failed.
    """
    from chatops.adapters.db.schema import upgrade

    upgrade(url)


def schema_revision(url: str) -> str | None:
    """The revision the database is at; None when it has none.

    Raises:
        StoreError: the database cannot be reached.
    """
    from chatops.adapters.db.schema import current

    return current(url)


def schema_head() -> str:
    """The newest revision among the migrations."""
    from chatops.adapters.db.schema import head

    return head()


def write_backup(url: str, target: Path) -> Backup:
    """Copy the database to `target` while chatops runs (SQLite online backup, or pg_dump).

    Raises:
        StoreError: the database cannot be read or the copy cannot be written.
    """
    from chatops.adapters.db.backup import backup

    return backup(url, target)


def engine_answers(docker_host: str | None) -> None:
    """Return when the Docker Engine at `docker_host` (None: the default) answers.

    Raises:
        RuntimeFailure: it does not, saying which engine and what to do.
    """
    from chatops.adapters.docker_client import connect

    connect(docker_host).close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    from chatops.adapters.local_services import free_port as pick

    return pick()


def start_dockerd(root: Path) -> LocalService:
    """A private Docker Engine with its state under `root` (as root, with Debian's docker.io).

    Raises:
        ServiceUnavailable: it cannot be started here; the message says what to install.
    """
    from chatops.adapters import local_services

    try:
        return local_services.start_dockerd(root)
    except local_services.ServiceUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
