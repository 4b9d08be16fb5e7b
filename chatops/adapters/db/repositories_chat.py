"""Chat messages on SQLAlchemy: which message stands for which subject, both ways."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import first_row, upsert
from chatops.adapters.db.tables import ChatMessageRow
from chatops.services.ports import MessageRef

__all__ = ["SqlMessageRepository"]


class SqlMessageRepository:
    """Which chat message stands for which subject, both ways."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, subject: str) -> MessageRef | None:
        stmt = select(ChatMessageRow).where(ChatMessageRow.subject == subject)
        row = first_row(self._session, stmt)
        return MessageRef(channel=row.channel, ts=row.ts) if row else None

    def put(self, subject: str, ref: MessageRef) -> None:
        values = {"subject": subject, "channel": ref.channel, "ts": ref.ts}
        upsert(self._session, ChatMessageRow, values, key=[ChatMessageRow.subject])

    def subject_of(self, ref: MessageRef) -> str | None:
        stmt = select(ChatMessageRow.subject).where(
            ChatMessageRow.channel == ref.channel, ChatMessageRow.ts == ref.ts
        )
        return self._session.scalar(stmt)
