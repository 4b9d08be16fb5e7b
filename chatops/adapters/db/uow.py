"""The unit of work on a SQLAlchemy session, and the engine under it (SQLite or PostgreSQL)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from chatops.adapters.db import SQLITE_BUSY_TIMEOUT_MS
from chatops.adapters.db.deliveries import SqlDeliveryLog, SqlWantedHeads
from chatops.adapters.db.measurements import SqlMeasurementRepository
from chatops.adapters.db.outbox import SqlOutbox
from chatops.adapters.db.repositories import (
    SqlAlertRepository,
    SqlAuditLog,
    SqlDeploymentRepository,
    SqlLeaseRepository,
    SqlLockRepository,
    SqlMessageRepository,
    SqlReleaseRepository,
    SqlVoteRepository,
)
from chatops.adapters.db.status_reads import SqlStatusReads
from chatops.errors import StoreError
from chatops.services.ports import (
    AlertRepository,
    AuditLog,
    DeliveryLog,
    DeploymentRepository,
    LeaseRepository,
    LockRepository,
    MeasurementRepository,
    MessageRepository,
    ReleaseRepository,
    VoteRepository,
    WantedHeads,
)
from chatops.services.status_reads import StatusReads

__all__ = [
    "SqlStore",
    "SqlUnitOfWork",
    "describe_url",
    "make_engine",
    "normalise_url",
    "store_error",
]


def normalise_url(url: str | URL) -> URL:
    """The SQLAlchemy URL for a database URL; `postgres://` and `postgresql://` use psycopg 3.

    Raises:
        StoreError: not a URL, or a database other than SQLite and PostgreSQL.
    """
    if isinstance(url, str):
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                url = "postgresql+psycopg://" + url.removeprefix(prefix)
        try:
            url = make_url(url)
        except ArgumentError:
            # The URL may hold a password: it is not repeated here.
            raise StoreError(
                "the database URL is not a valid URL",
                hint="use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB",
            ) from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise StoreError(
            f"chatops cannot store its data in {url.get_backend_name()}",
            hint="use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB",
        )
    return url


def describe_url(url: URL) -> str:
    """The URL for messages and logs, password masked."""
    return url.render_as_string(hide_password=True)


def store_error(url: URL, exc: BaseException) -> StoreError:
    """A StoreError for a database failure, naming the database but never its password."""
    cause = getattr(exc, "orig", None) or exc
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if url.password:
        detail = detail.replace(str(url.password), "***")
    return StoreError(f"database {describe_url(url)}: {detail}")


def make_engine(url: str | URL) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    Raises:
        StoreError: the URL is not usable, or the SQLite file's directory cannot be made.
    """
    sa_url = normalise_url(url)
    if sa_url.get_backend_name() != "sqlite":
        return create_engine(sa_url, pool_pre_ping=True)
    database = sa_url.database or ""
    if database and database != ":memory:" and not sa_url.query.get("uri"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory of {database}: {exc}") from exc
    engine = create_engine(sa_url)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # SQLAlchemy's documented recipe: stop sqlite3 from emitting BEGIN itself, so
    # that _sqlite_begin decides how transactions start (and SAVEPOINTs work).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _wal(cursor: Any) -> None:
    """Put the database in WAL mode (it stays so). Switching needs the file to itself, and
    SQLite answers "database is locked" at once rather than waiting for it (a replica that
    migrates a new database holds it), so wait here, within the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.01
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _sqlite_begin(conn: Connection) -> None:
    # Take the write lock when the transaction starts: a second writer then waits
    # (busy_timeout) instead of failing with "database is locked" when a read
    # transaction tries to become a write transaction. Every unit of work may write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqlUnitOfWork:
    """One database transaction over every repository; rolled back on exit unless committed.

    Database failures leaving the `with` block, `commit()` or `ping()` are
    raised as StoreError.

    Args:
        engine: the engine to open the session on.
    """

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url
        self._session = Session(engine, expire_on_commit=False)
        self.releases: ReleaseRepository = SqlReleaseRepository(self._session)
        self.deployments: DeploymentRepository = SqlDeploymentRepository(self._session)
        self.votes: VoteRepository = SqlVoteRepository(self._session)
        self.locks: LockRepository = SqlLockRepository(self._session)
        self.audit: AuditLog = SqlAuditLog(self._session)
        self.alerts: AlertRepository = SqlAlertRepository(self._session)
        self.messages: MessageRepository = SqlMessageRepository(self._session)
        self.leases: LeaseRepository = SqlLeaseRepository(self._session)
        self.deliveries: DeliveryLog = SqlDeliveryLog(self._session)
        self.wanted_heads: WantedHeads = SqlWantedHeads(self._session)
        self.measurements: MeasurementRepository = SqlMeasurementRepository(self._session)
        self.status: StatusReads = SqlStatusReads(self._session)
        self.outbox = SqlOutbox(self._session)  # the Slack adapters' own, not a port

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._session.close()  # rolls back whatever was not committed
        except DBAPIError as close_exc:
            if exc is None:
                raise store_error(self._url, close_exc) from close_exc
        if isinstance(exc, DBAPIError):
            raise store_error(self._url, exc) from exc

    def commit(self) -> None:
        """Commit everything done so far.

        Raises:
            StoreError: the database refused or could not be reached.
        """
        try:
            self._session.commit()
        except DBAPIError as exc:
            raise store_error(self._url, exc) from exc

    def ping(self) -> None:
        """Run `SELECT 1`.

        Raises:
            StoreError: the database cannot be reached.
        """
        try:
            self._session.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise store_error(self._url, exc) from exc


class SqlStore:
    """The database: an engine and the factory of units of work on it.

    Args:
        url: the database URL (`sqlite:///PATH`, `postgresql://…`).
    """

    def __init__(self, url: str | URL) -> None:
        self.engine = make_engine(url)

    @property
    def url(self) -> URL:
        return self.engine.url

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work (use it in a `with` block)."""
        return SqlUnitOfWork(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
