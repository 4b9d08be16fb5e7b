"""Deliveries already handled, and branch heads wanted after a busy push, on SQLAlchemy."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import dialect_insert, upsert, write
from chatops.adapters.db.tables import NAME, DeliveryRow, WantedHeadRow
from chatops.services.ports import WantedHead

__all__ = ["SqlDeliveryLog", "SqlWantedHeads"]


def _key(key: str) -> str:
    """The key as stored: itself, or its digest when it is longer than the column."""
    if len(key) <= NAME:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SqlDeliveryLog:
    """Seen delivery keys; recording one is a single INSERT … ON CONFLICT DO NOTHING."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def first_time(self, key: str, *, at: datetime) -> bool:
        stmt = (
            dialect_insert(self._session)(DeliveryRow)
            .values(key=_key(key), seen_at=at)
            .on_conflict_do_nothing()
        )
        return write(self._session, stmt) == 1

    def forget(self, key: str) -> None:
        write(self._session, delete(DeliveryRow).where(DeliveryRow.key == _key(key)))

    def prune(self, *, before: datetime) -> int:
        return write(self._session, delete(DeliveryRow).where(DeliveryRow.seen_at < before))


class SqlWantedHeads:
    """One wanted head per (bot, env); the newest push replaces an older one."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def put(self, wanted: WantedHead) -> None:
        values = {
            "bot": wanted.bot,
            "env": wanted.env,
            "commit": wanted.commit,
            "requested_by": wanted.requested_by,
            "at": wanted.at,
        }
        upsert(self._session, WantedHeadRow, values, key=[WantedHeadRow.bot, WantedHeadRow.env])

    def list(self) -> list[WantedHead]:
        rows = self._session.execute(select(WantedHeadRow).order_by(WantedHeadRow.at)).scalars()
        return [
            WantedHead(
                bot=row.bot,
                env=row.env,
                commit=row.commit,
                requested_by=row.requested_by,
                at=row.at,
            )
            for row in rows
        ]

    def remove(self, wanted: WantedHead) -> bool:
        stmt = delete(WantedHeadRow).where(
            WantedHeadRow.bot == wanted.bot,
            WantedHeadRow.env == wanted.env,
            WantedHeadRow.commit == wanted.commit,
            WantedHeadRow.at == wanted.at,
        )
        return write(self._session, stmt) == 1
