"""The audit log on SQLAlchemy: append-only, pruned by age."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import all_rows
from chatops.adapters.db.tables import AuditEventRow
from chatops.domain.audit import AuditEvent, Outcome

__all__ = ["SqlAuditLog"]


def _audit_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        outcome=Outcome(row.outcome),
        source=row.source,
        bot=row.bot,
        env=row.env,
        deployment_id=row.deployment_id,
        detail=row.detail,
    )


class SqlAuditLog:
    """The audit log: append-only."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, event: AuditEvent) -> None:
        row = AuditEventRow(
            at=event.at,
            actor=event.actor,
            action=event.action,
            outcome=str(event.outcome),
            source=event.source,
            bot=event.bot,
            env=event.env,
            deployment_id=event.deployment_id,
            detail=event.detail,
        )
        self._session.add(row)
        self._session.flush()

    def list(
        self,
        *,
        bot: str | None = None,
        deployment_id: int | None = None,
        limit: int = 100,
        env: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
    ) -> list[AuditEvent]:
        stmt = select(AuditEventRow)
        for column, wanted in (
            (AuditEventRow.bot, bot),
            (AuditEventRow.deployment_id, deployment_id),
            (AuditEventRow.env, env),
            (AuditEventRow.actor, actor),
            (AuditEventRow.action, action),
        ):
            if wanted is not None:
                stmt = stmt.where(column == wanted)
        if since is not None:
            stmt = stmt.where(AuditEventRow.at >= since)
        if until is not None:
            stmt = stmt.where(AuditEventRow.at < until)
        if before_id is not None:
            stmt = stmt.where(AuditEventRow.id < before_id)
        stmt = stmt.order_by(AuditEventRow.id.desc()).limit(limit)
        return [_audit_event(row) for row in all_rows(self._session, stmt)]

    def prune(self, before: datetime) -> int:
        result = self._session.execute(delete(AuditEventRow).where(AuditEventRow.at < before))
        return int(getattr(result, "rowcount", 0) or 0)
