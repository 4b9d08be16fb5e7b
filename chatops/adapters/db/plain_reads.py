"""What `status` and `releases` read, on Python's sqlite3 alone (services.status_reads.Reads).

A read command's time is mostly imports, and SQLAlchemy's are the largest (its
engine, SQL compiler, ORM and the tables: more than the rest of `status` together).
For a SQLite database that is already at this chatops' schema, the CLI's read
commands read here instead: one read-only connection, a transaction per unit of
work, rows straight into the domain values (columns named as their fields, in
their order). Anything else (PostgreSQL, a new or outdated database, an unusual
URL) is left to the SQLAlchemy store: `PlainStore.open` answers None.

The SQLAlchemy adapters stay the reference: a test reads one database both ways
and compares every value.
"""

# ruff: noqa: S608 (the SQL joins constant names and `?` placeholders; every value is bound)

from __future__ import annotations

import dataclasses
import enum
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from chatops.adapters.db import SQLITE_BUSY_TIMEOUT_MS
from chatops.adapters.db.revision import HEAD
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import Decision, Vote
from chatops.domain.deployment import ACTIVE_STATES, Deployment, Kind, Release, State
from chatops.domain.policy import Lock, LockKind
from chatops.domain.verification import Measurement, Tally, Verdict, tally
from chatops.errors import StoreError
from chatops.services.status_reads import Spell, StatusFacts

__all__ = ["PlainReads", "PlainStore", "sqlite_path"]

T = TypeVar("T")


def sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL; None for any other URL (PostgreSQL,
    in-memory, query parameters), which only SQLAlchemy reads."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url.removeprefix(prefix)
    if not path or path == ":memory:" or any(c in path for c in "?#%"):
        return None
    return Path(path)


def _utc(value: Any) -> datetime | None:
    """A time as SQLAlchemy writes it to SQLite (UTC wall time, as text), tagged UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Shape(Generic[T]):
    """How a row of `table` becomes a `value` (a dataclass): its columns, named as its
    fields (but for `renamed`) and selected in their order; times tagged UTC, enums
    looked up, SQLite's 0 and 1 made booleans."""

    def __init__(
        self,
        value: Callable[..., T],
        table: str,
        enums: dict[str, type[enum.Enum]],
        renamed: dict[str, str] | None = None,
    ) -> None:
        fields = dataclasses.fields(value)  # type: ignore[arg-type]
        renamed = renamed or {}
        self._value = value
        self.columns = ", ".join(f'{table}."{renamed.get(f.name, f.name)}"' for f in fields)
        self._times = [i for i, f in enumerate(fields) if str(f.type).startswith("datetime")]
        self._flags = [i for i, f in enumerate(fields) if f.type in ("bool", bool)]
        self._enums = [
            (i, {str(member.value): member for member in enums[f.name]})
            for i, f in enumerate(fields)
            if f.name in enums
        ]

    def __call__(self, row: Sequence[Any]) -> T:
        values = list(row)
        for i, members in self._enums:
            values[i] = members[values[i]]
        for i in self._times:
            values[i] = _utc(values[i])
        for i in self._flags:
            values[i] = bool(values[i])
        return self._value(*values)


_deployment = _Shape(Deployment, "deployments", {"kind": Kind, "state": State})
_release = _Shape(Release, "releases", {})
_lock = _Shape(Lock, "locks", {"kind": LockKind})
_alert = _Shape(Alert, "alerts", {"state": AlertState})
_spell = _Shape(Spell, "deployments", {})
_vote = _Shape(Vote, "votes", {"decision": Decision}, renamed={"user": "user_id"})
_measurement = _Shape(Measurement, "measurements", {"verdict": Verdict})


def _marks(values: Collection[object]) -> str:
    return ", ".join("?" * len(values))


class _Part:
    """One part of the port (status, releases, …), reading on the unit of work's connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def _rows(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        return self._connection.execute(sql, tuple(params)).fetchall()


class _Status(_Part):
    def facts(self, bot: str | None = None) -> StatusFacts:
        states = sorted(str(s) for s in {State.LIVE, *ACTIVE_STATES})
        where, params = f"state IN ({_marks(states)})", list(states)
        alerts_where, alerts_params = "state != ?", [str(AlertState.RESOLVED)]
        if bot is not None:
            where, params = f"{where} AND bot = ?", [*params, bot]
            alerts_where, alerts_params = f"{alerts_where} AND bot = ?", [*alerts_params, bot]
        deployments = [
            _deployment(row)
            for row in self._rows(
                f"SELECT {_deployment.columns} FROM deployments WHERE {where} ORDER BY id",
                params,
            )
        ]
        locks = f"SELECT {_lock.columns} FROM locks ORDER BY bot, env"
        alerts = f"SELECT {_alert.columns} FROM alerts WHERE {alerts_where} ORDER BY id"
        return StatusFacts(
            live=[d for d in deployments if d.state is State.LIVE],
            active=[d for d in deployments if d.state in ACTIVE_STATES],
            locks=[_lock(row) for row in self._rows(locks)],
            open_alerts=[_alert(row) for row in self._rows(alerts, alerts_params)],
        )

    def runs_before(
        self, env: str, bots: Collection[str], *, limit: int, leave_out: Collection[int]
    ) -> list[Spell]:
        if not bots:
            return []
        named, out = sorted(set(bots)), sorted(leave_out)
        sql = (
            f"SELECT {_spell.columns} FROM deployments JOIN ("
            " SELECT id, row_number() OVER (PARTITION BY bot ORDER BY id DESC) AS n"
            f" FROM deployments WHERE env = ? AND bot IN ({_marks(named)})"
            ") AS ranked ON ranked.id = deployments.id"
            " WHERE ranked.n <= ? AND deployments.live_at IS NOT NULL"
            f" AND deployments.id NOT IN ({_marks(out)})"
            " ORDER BY deployments.bot, deployments.id DESC"
        )
        return [_spell(row) for row in self._rows(sql, [env, *named, limit, *out])]


class _Releases(_Part):
    def list(self, bot: str, limit: int = 20) -> list[Release]:
        sql = f"SELECT {_release.columns} FROM releases WHERE bot = ? ORDER BY version DESC LIMIT ?"
        return [_release(row) for row in self._rows(sql, [bot, limit])]


class _Deployments(_Part):
    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]:
        where, params = "bot = ?", [bot]
        if env is not None:
            where, params = f"{where} AND env = ?", [*params, env]
        sql = (
            f"SELECT {_deployment.columns} FROM deployments WHERE {where} ORDER BY id DESC LIMIT ?"
        )
        return [_deployment(row) for row in self._rows(sql, [*params, limit])]


class _Votes(_Part):
    def list(self, deployment_id: int) -> list[Vote]:
        sql = f"SELECT {_vote.columns} FROM votes WHERE deployment_id = ? ORDER BY at, user_id"
        return [_vote(row) for row in self._rows(sql, [deployment_id])]


class _Tallies(_Part):
    """Verification's tallies, summed up by `domain.verification.tally` from the rows."""

    def _measurements(self, deployment_ids: Collection[int]) -> list[Measurement]:
        ids = sorted(set(deployment_ids))
        sql = (
            f"SELECT {_measurement.columns} FROM measurements"
            f" WHERE deployment_id IN ({_marks(ids)}) ORDER BY at, id"
        )
        return [_measurement(row) for row in self._rows(sql, ids)]

    def tallies(self, deployment_ids: Collection[int]) -> list[Tally]:
        return tally(self._measurements(deployment_ids)) if deployment_ids else []

    def tallies_by_deployment(self, deployment_ids: Collection[int]) -> dict[int, list[Tally]]:
        if not deployment_ids:
            return {}
        by_deployment: dict[int, list[Measurement]] = {}
        for m in self._measurements(deployment_ids):
            by_deployment.setdefault(m.deployment_id or 0, []).append(m)
        return {i: tally(ms) for i, ms in by_deployment.items()}


class PlainReads:
    """One read-only transaction (services.status_reads.Reads): every read sees one
    snapshot of the database. What the database refuses leaves the `with` block as a
    StoreError naming it, as from the SQLAlchemy store."""

    def __init__(self, connection: sqlite3.Connection, *, where: str) -> None:
        self._connection = connection
        self._where = where
        self.status = _Status(connection)
        self.releases = _Releases(connection)
        self.deployments = _Deployments(connection)
        self.votes = _Votes(connection)
        self.measurements = _Tallies(connection)

    def __enter__(self) -> Self:
        try:
            self._connection.execute("BEGIN")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._connection.execute("ROLLBACK")
        except sqlite3.Error as rollback:
            if exc is None:
                raise self._error(rollback) from rollback
        if isinstance(exc, sqlite3.Error):
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"database {self._where}: {exc}")


class PlainStore:
    """A read-only connection to a SQLite database at this chatops' schema."""

    def __init__(self, connection: sqlite3.Connection, *, where: str) -> None:
        self._connection = connection
        self._where = where  # the URL, for messages

    @classmethod
    def open(cls, url: str) -> PlainStore | None:
        """The database of `url`, when it is a SQLite file at the schema this code expects;
        else None (the SQLAlchemy store then creates, migrates or refuses it)."""
        path = sqlite_path(url)
        if path is None or not path.is_file():
            return None
        try:
            # rw: never creates the file; isolation_level None: this code says BEGIN
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None
            )
        except sqlite3.Error:
            return None
        try:
            connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA query_only = ON")
            revisions = [
                revision
                for (revision,) in connection.execute("SELECT version_num FROM alembic_version")
            ]
        except sqlite3.Error:
            connection.close()
            return None
        if revisions != [HEAD]:
            connection.close()
            return None
        return cls(connection, where=url)

    def holds_messages(self) -> bool:
        """Whether the outbox holds messages not delivered yet (to Slack or a forge)."""
        return bool(self._connection.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone()[0])

    def reads(self) -> PlainReads:
        """A read-only unit of work (use it in a `with` block)."""
        return PlainReads(self._connection, where=self._where)

    def close(self) -> None:
        self._connection.close()
