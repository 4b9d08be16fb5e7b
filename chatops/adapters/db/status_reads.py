"""services.status_reads on SQLAlchemy Core: plain rows straight into domain values.

The repositories read ORM objects (refreshed, tracked for writes) and copy them
field by field by name; status reads hundreds of rows and writes none, so here a
row's columns are selected in the order of the domain value's fields and passed
by position. The columns come from the dataclass fields: a field without a column
fails at import, not on a page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Column, Row, Table, func, select
from sqlalchemy.orm import Session

from chatops.adapters.db.tables import AlertRow, DeploymentRow, LockRow
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.deployment import ACTIVE_STATES, Deployment, Kind, State
from chatops.domain.policy import Lock, LockKind
from chatops.services.status_reads import Spell, StatusFacts

__all__ = ["SqlStatusReads"]

_DEPLOYMENTS: Table = DeploymentRow.__table__  # type: ignore[assignment]
_LOCKS: Table = LockRow.__table__  # type: ignore[assignment]
_ALERTS: Table = AlertRow.__table__  # type: ignore[assignment]

_KINDS = {str(kind): kind for kind in Kind}
_STATES = {str(state): state for state in State}
_LOCK_KINDS = {str(kind): kind for kind in LockKind}
_ALERT_STATES = {str(state): state for state in AlertState}


def _columns(value: type[Any], table: Table) -> list[Column[Any]]:
    return [table.c[f.name] for f in dataclasses.fields(value)]


_DEPLOYMENT_COLUMNS = _columns(Deployment, _DEPLOYMENTS)
_LOCK_COLUMNS = _columns(Lock, _LOCKS)
_ALERT_COLUMNS = _columns(Alert, _ALERTS)
# the fields held as enums, by position (the rest are as the columns read them)
_DEPLOYMENT_KIND = [c.name for c in _DEPLOYMENT_COLUMNS].index("kind")
_DEPLOYMENT_STATE = [c.name for c in _DEPLOYMENT_COLUMNS].index("state")
_LOCK_KIND = [c.name for c in _LOCK_COLUMNS].index("kind")
_ALERT_STATE = [c.name for c in _ALERT_COLUMNS].index("state")


def _deployment(row: Row[Any]) -> Deployment:
    values = list(row)
    values[_DEPLOYMENT_KIND] = _KINDS[values[_DEPLOYMENT_KIND]]
    values[_DEPLOYMENT_STATE] = _STATES[values[_DEPLOYMENT_STATE]]
    return Deployment(*values)


def _lock(row: Row[Any]) -> Lock:
    values = list(row)
    values[_LOCK_KIND] = _LOCK_KINDS[values[_LOCK_KIND]]
    return Lock(*values)


def _alert(row: Row[Any]) -> Alert:
    values = list(row)
    values[_ALERT_STATE] = _ALERT_STATES[values[_ALERT_STATE]]
    return Alert(*values)


class SqlStatusReads:
    """Read-only: nothing read here enters the session's identity map."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _rows(self, stmt: Any) -> Sequence[Row[Any]]:
        self._session.flush()  # what this unit of work wrote is read back too
        return self._session.execute(stmt).all()

    def _in_state(self, states: Iterable[State], bot: str | None) -> list[Deployment]:
        table = _DEPLOYMENTS
        stmt = select(*_DEPLOYMENT_COLUMNS).where(table.c.state.in_([str(s) for s in states]))
        if bot is not None:
            stmt = stmt.where(table.c.bot == bot)
        return [_deployment(row) for row in self._rows(stmt.order_by(table.c.id))]

    def facts(self, bot: str | None = None) -> StatusFacts:
        alerts = select(*_ALERT_COLUMNS).where(_ALERTS.c.state != str(AlertState.RESOLVED))
        if bot is not None:
            alerts = alerts.where(_ALERTS.c.bot == bot)
        locks = select(*_LOCK_COLUMNS).order_by(_LOCKS.c.bot, _LOCKS.c.env)
        return StatusFacts(
            live=self._in_state([State.LIVE], bot),
            active=self._in_state(ACTIVE_STATES, bot),
            locks=[_lock(row) for row in self._rows(locks)],
            open_alerts=[_alert(row) for row in self._rows(alerts.order_by(_ALERTS.c.id))],
        )

    def runs_before(
        self, env: str, bots: Collection[str], *, limit: int, leave_out: Collection[int]
    ) -> list[Spell]:
        if not bots:
            return []
        table = _DEPLOYMENTS
        # the newest `limit` of each bot, numbered per bot by a window (all of them count)
        newest = func.row_number().over(partition_by=table.c.bot, order_by=table.c.id.desc())
        ranked = (
            select(table.c.id, newest.label("n"))
            .where(table.c.env == env, table.c.bot.in_(sorted(set(bots))))
            .subquery()
        )
        stmt = (
            select(table.c.id, table.c.bot, table.c.version, table.c.live_at)
            .join(ranked, ranked.c.id == table.c.id)
            .where(ranked.c.n <= limit, table.c.live_at.is_not(None))
            .order_by(table.c.bot, table.c.id.desc())
        )
        if leave_out:
            stmt = stmt.where(table.c.id.not_in(sorted(leave_out)))
        return [Spell(*row) for row in self._rows(stmt)]
