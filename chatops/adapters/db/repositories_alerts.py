"""Alerts on SQLAlchemy: one row per incident."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import all_rows, first_row
from chatops.adapters.db.tables import AlertRow
from chatops.domain.alerts import Alert, AlertState
from chatops.errors import StoreError

__all__ = ["SqlAlertRepository"]


def _alert(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        bot=row.bot,
        env=row.env,
        source=row.source,
        fingerprint=row.fingerprint,
        summary=row.summary,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        state=AlertState(row.state),
        deployment_id=row.deployment_id,
        version=row.version,
        detail=row.detail,
        count=row.count,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        resolved_at=row.resolved_at,
        action_taken=row.action_taken,
    )


def _alert_columns(alert: Alert) -> dict[str, Any]:
    return {
        "bot": alert.bot,
        "env": alert.env,
        "source": alert.source,
        "fingerprint": alert.fingerprint,
        "summary": alert.summary,
        "first_seen": alert.first_seen,
        "last_seen": alert.last_seen,
        "state": str(alert.state),
        "deployment_id": alert.deployment_id,
        "version": alert.version,
        "detail": alert.detail,
        "count": alert.count,
        "acked_by": alert.acked_by,
        "acked_at": alert.acked_at,
        "resolved_at": alert.resolved_at,
        "action_taken": alert.action_taken,
    }


class SqlAlertRepository:
    """Alerts: one row per incident."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, alert: Alert) -> Alert:
        row = AlertRow(**_alert_columns(alert))
        self._session.add(row)
        self._session.flush()
        return _alert(row)

    def save(self, alert: Alert) -> Alert:
        if alert.id is None:
            raise ValueError("cannot save an alert without an id: add it first")
        row = self._session.get(AlertRow, alert.id, populate_existing=True)
        if row is None:
            raise StoreError(f"there is no alert #{alert.id} to save")
        for name, value in _alert_columns(alert).items():
            setattr(row, name, value)
        self._session.flush()
        return _alert(row)

    def get(self, alert_id: int) -> Alert | None:
        row = self._session.get(AlertRow, alert_id, populate_existing=True)
        return _alert(row) if row else None

    def open_for(self, bot: str, env: str, fingerprint: str) -> Alert | None:
        stmt = (
            select(AlertRow)
            .where(
                AlertRow.bot == bot,
                AlertRow.env == env,
                AlertRow.fingerprint == fingerprint,
                AlertRow.state != str(AlertState.RESOLVED),
            )
            .order_by(AlertRow.id.desc())
        )
        row = first_row(self._session, stmt)
        return _alert(row) if row else None

    def open_alerts(self, bot: str | None = None) -> list[Alert]:
        stmt = select(AlertRow).where(AlertRow.state != str(AlertState.RESOLVED))
        if bot is not None:
            stmt = stmt.where(AlertRow.bot == bot)
        return [_alert(row) for row in all_rows(self._session, stmt.order_by(AlertRow.id))]

    def history(self, bot: str, limit: int = 100) -> list[Alert]:
        stmt = select(AlertRow).where(AlertRow.bot == bot).order_by(AlertRow.id.desc())
        return [_alert(row) for row in all_rows(self._session, stmt.limit(limit))]
