"""Statement helpers the SQL repositories share: reads that refresh, writes that count rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Executable
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import Select

from chatops.adapters.db.tables import Base

__all__ = ["all_rows", "first_row", "upsert", "write"]

_Row = TypeVar("_Row", bound=Base)


def first_row(session: Session, stmt: Select[tuple[_Row]]) -> _Row | None:
    """The first row of `stmt`, re-read from the database (see `all_rows`)."""
    return session.scalars(stmt.limit(1).execution_options(populate_existing=True)).first()


def all_rows(session: Session, stmt: Select[tuple[_Row]]) -> Sequence[_Row]:
    """The rows of `stmt`, re-read from the database.

    Upserts, deletes and bulk updates (`write`, `upsert`) run as plain SQL and do not
    touch the session's identity map, so every read refreshes what it returns.
    """
    return session.scalars(stmt.execution_options(populate_existing=True)).all()


def write(session: Session, stmt: Executable) -> int:
    """Execute a write statement in the session's transaction; the number of rows it touched."""
    # Without preserve_rowcount, psycopg reports -1 for an INSERT.
    options = {"preserve_rowcount": True}
    return session.connection().execute(stmt, execution_options=options).rowcount


def dialect_insert(session: Session) -> Any:
    """The session's dialect's `insert` (with ON CONFLICT); only that dialect is imported
    (PostgreSQL's costs a SQLite command some 15 ms)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def upsert(
    session: Session,
    entity: type[Base],
    values: dict[str, Any],
    *,
    key: Sequence[InstrumentedAttribute[Any]],
    where: Any = None,
) -> int:
    """INSERT … ON CONFLICT (key) DO UPDATE [WHERE …]; 1 when a row was written, else 0."""
    stmt = dialect_insert(session)(entity).values(values)
    changes = {name: stmt.excluded[name] for name in values if name not in {k.key for k in key}}
    return write(session, stmt.on_conflict_do_update(index_elements=key, set_=changes, where=where))
