"""Named leases on SQLAlchemy: who holds one, taken in one atomic statement."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import upsert, write
from chatops.adapters.db.tables import LeaseRow

__all__ = ["SqlLeaseRepository"]


class SqlLeaseRepository:
    """Named leases; taking one is a single atomic statement, safe across processes."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def acquire(self, name: str, *, owner: str, now: datetime, ttl_seconds: float) -> bool:
        values = {"name": name, "owner": owner, "expires_at": now + timedelta(seconds=ttl_seconds)}
        ours_or_expired = or_(LeaseRow.owner == owner, LeaseRow.expires_at <= now)
        written = upsert(
            self._session, LeaseRow, values, key=[LeaseRow.name], where=ours_or_expired
        )
        return written == 1

    def release(self, name: str, *, owner: str) -> None:
        write(self._session, delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))

    def holder(self, name: str) -> tuple[str, datetime] | None:
        stmt = select(LeaseRow.owner, LeaseRow.expires_at).where(LeaseRow.name == name)
        row = self._session.execute(stmt).first()
        return (row.owner, row.expires_at) if row else None
