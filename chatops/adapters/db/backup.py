"""A consistent copy of chatops' database taken while it runs: `chatops backup`.

SQLite is copied with its online backup API (readers and writers carry on, the
copy is one consistent snapshot) into a file that appears only when complete.
PostgreSQL is dumped with `pg_dump --format=custom` (restore with pg_restore)
when pg_dump is installed; otherwise the refusal names the command to run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL

from chatops.adapters.db.schema import current
from chatops.adapters.db.uow import describe_url, normalise_url
from chatops.errors import StoreError

__all__ = ["Backup", "backup"]

PG_DUMP_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Backup:
    """What was written: the file, its size, and the schema revision it holds."""

    database: str  # the source, password masked
    path: Path
    bytes: int
    revision: str | None
    format: str  # "sqlite" or "pg_dump-custom"


def backup(url: str, target: Path) -> Backup:
    """Copy the database at `url` to the file `target` (replaced when it exists).

    Raises:
        StoreError: no such database, it cannot be read, or the copy cannot be written;
            for PostgreSQL without pg_dump, the command to run instead.
    """
    sa_url = normalise_url(url)
    target = target.expanduser().absolute()
    if not target.parent.is_dir():
        raise StoreError(
            f"cannot write the backup to {target}: {target.parent} is not a directory",
            hint="create the directory first, or name another file",
        )
    if target.is_dir():
        raise StoreError(
            f"{target} is a directory", hint=f"name the file, e.g. {target / 'chatops.backup'}"
        )
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite(sa_url, target)
    return _postgres(sa_url, target)


def _sqlite(url: URL, target: Path) -> Backup:
    name = url.database or ""
    if name in ("", ":memory:"):
        raise StoreError("an in-memory SQLite database has nothing to back up")
    source = Path(name).absolute()
    if not source.is_file():
        # never an empty copy of a database that is not there: that would look like a backup
        raise StoreError(
            f"there is no SQLite database at {source}",
            hint="check database_url in chatops.yaml (or CHATOPS_DATABASE_URL) and --config",
        )
    if target.exists() and target.resolve() == source.resolve():
        raise StoreError(f"{target} is the database itself", hint="name another file")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with (
            closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as origin,
            closing(sqlite3.connect(partial)) as copy,
        ):
            origin.execute("PRAGMA busy_timeout = 30000")
            origin.backup(copy)
            (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise StoreError(f"the copy of {source} does not check out: {verdict}")
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot back up {source} to {target}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return Backup(
        database=describe_url(url),
        path=target,
        bytes=target.stat().st_size,
        revision=current(f"sqlite:///{target}"),
        format="sqlite",
    )


def _postgres(url: URL, target: Path) -> Backup:
    # libpq's own URL, without the password, which goes in PGPASSWORD (never on a command line)
    dsn = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    ).render_as_string(hide_password=False)
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise StoreError(
            "pg_dump is not installed here, and chatops backs up PostgreSQL with it",
            hint=f"run: pg_dump --format=custom --file={target} '{dsn}' "
            "(apt-get install postgresql-client; its version at least the server's)",
        )
    partial = target.with_name(f".{target.name}.partial")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    try:
        result = subprocess.run(
            [pg_dump, "--format=custom", "--no-password", f"--file={partial}", f"--dbname={dsn}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=PG_DUMP_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or [f"exit code {result.returncode}"]
            raise StoreError(f"pg_dump of {describe_url(url)} failed: {lines[-1]}")
        os.replace(partial, target)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StoreError(f"pg_dump of {describe_url(url)} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return Backup(
        database=describe_url(url),
        path=target,
        bytes=target.stat().st_size,
        revision=current(url),
        format="pg_dump-custom",
    )
