"""Votes and locks on SQLAlchemy: what approvals and locks decide on."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import all_rows, first_row, upsert, write
from chatops.adapters.db.tables import LockRow, VoteRow
from chatops.domain.approvals import Decision, Vote
from chatops.domain.policy import Lock, LockKind

__all__ = ["SqlLockRepository", "SqlVoteRepository"]


class SqlVoteRepository:
    """Votes: one decision per (deployment, person)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def put(self, vote: Vote) -> None:
        values = {
            "deployment_id": vote.deployment_id,
            "user_id": vote.user,
            "decision": str(vote.decision),
            "at": vote.at,
        }
        # A repeat of the same decision keeps its original time.
        changed = VoteRow.decision != str(vote.decision)
        key = [VoteRow.deployment_id, VoteRow.user_id]
        upsert(self._session, VoteRow, values, key=key, where=changed)

    def list(self, deployment_id: int) -> list[Vote]:
        stmt = (
            select(VoteRow)
            .where(VoteRow.deployment_id == deployment_id)
            .order_by(VoteRow.at, VoteRow.user_id)
        )
        return [
            Vote(
                deployment_id=row.deployment_id,
                user=row.user_id,
                decision=Decision(row.decision),
                at=row.at,
            )
            for row in all_rows(self._session, stmt)
        ]


def _lock(row: LockRow) -> Lock:
    return Lock(
        bot=row.bot,
        env=row.env,
        held_by=row.held_by,
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        kind=LockKind(row.kind),
    )


class SqlLockRepository:
    """Locks: at most one per (bot, env); a new one replaces the old."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, bot: str, env: str) -> Lock | None:
        row = first_row(
            self._session, select(LockRow).where(LockRow.bot == bot, LockRow.env == env)
        )
        return _lock(row) if row else None

    def put(self, lock: Lock) -> None:
        values = {
            "bot": lock.bot,
            "env": lock.env,
            "held_by": lock.held_by,
            "reason": lock.reason,
            "created_at": lock.created_at,
            "expires_at": lock.expires_at,
            "kind": str(lock.kind),
        }
        upsert(self._session, LockRow, values, key=[LockRow.bot, LockRow.env])

    def delete(self, bot: str, env: str) -> bool:
        stmt = delete(LockRow).where(LockRow.bot == bot, LockRow.env == env)
        return write(self._session, stmt) > 0

    def list(self) -> list[Lock]:
        stmt = select(LockRow).order_by(LockRow.bot, LockRow.env)
        return [_lock(row) for row in all_rows(self._session, stmt)]
