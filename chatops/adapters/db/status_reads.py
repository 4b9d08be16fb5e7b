"""services.status_reads on SQLAlchemy Core: plain rows straight into domain values.

The repositories read ORM objects (refreshed, tracked for writes) and copy them
field by field by name; status reads hundreds of rows and writes none, so here a
row's columns are selected in the order of the domain value's fields and passed
by position. The columns come from the dataclass fields: a field without a column
fails at import, not on a page.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Row, Table, bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from chatops.adapters.db.tables import AlertRow, DeploymentRow, LockRow, UtcDateTime
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.deployment import ACTIVE_STATES, Deployment, Kind, State
from chatops.domain.policy import Lock, LockKind
from chatops.services.status_reads import Spell, StatusFacts

__all__ = ["SqlStatusReads"]

T = TypeVar("T")

_DEPLOYMENTS: Table = DeploymentRow.__table__  # type: ignore[assignment]
_LOCKS: Table = LockRow.__table__  # type: ignore[assignment]
_ALERTS: Table = AlertRow.__table__  # type: ignore[assignment]


_PLAIN_TIME = UtcDateTime.impl  # DateTime(timezone=True): what UtcDateTime reads before tagging


def _is_time(column: Column[Any]) -> bool:
    return isinstance(column.type, UtcDateTime)


class _Shape(Generic[T]):
    """How a row becomes a `value` (a dataclass): its columns, in the order of its fields.

    Enums are looked up by value; times are read with the column type's plain
    `DateTime` and tagged UTC here, as `UtcDateTime` would, without its two calls per
    value (most of a status read: nine times per deployment, most of them NULL).
    """

    def __init__(
        self, value: Callable[..., T], table: Table, enums: Mapping[str, type[enum.Enum]]
    ) -> None:
        names = [f.name for f in dataclasses.fields(value)]  # type: ignore[arg-type]
        self._value = value
        self._times = [i for i, name in enumerate(names) if _is_time(table.c[name])]
        self.columns = [
            type_coerce(table.c[name], _PLAIN_TIME).label(name)
            if i in self._times
            else table.c[name]
            for i, name in enumerate(names)
        ]
        self._enums = [
            (names.index(name), {str(member.value): member for member in kind})
            for name, kind in enums.items()
        ]

    def __call__(self, row: Row[Any]) -> T:
        values = list(row)
        for i, members in self._enums:
            values[i] = members[values[i]]
        for i in self._times:
            moment = values[i]
            if moment is not None:
                values[i] = (
                    moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
                )
        return self._value(*values)


_deployment = _Shape(Deployment, _DEPLOYMENTS, {"kind": Kind, "state": State})
_lock = _Shape(Lock, _LOCKS, {"kind": LockKind})
_alert = _Shape(Alert, _ALERTS, {"state": AlertState})
_spell = _Shape(Spell, _DEPLOYMENTS, {})


class SqlStatusReads:
    """Read-only: nothing read here enters the session's identity map."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _rows(self, stmt: Any, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        self._session.flush()  # what this unit of work wrote is read back too
        # through the connection: plain rows, no ORM result to build around them
        return self._session.connection().execute(stmt, params).all()

    def _in_state(self, states: Iterable[State], bot: str | None) -> list[Deployment]:
        table = _DEPLOYMENTS
        stmt = select(*_deployment.columns).where(table.c.state.in_(sorted(str(s) for s in states)))
        if bot is not None:
            stmt = stmt.where(table.c.bot == bot)
        return [_deployment(row) for row in self._rows(stmt.order_by(table.c.id))]

    def facts(self, bot: str | None = None) -> StatusFacts:
        alerts = select(*_alert.columns).where(_ALERTS.c.state != str(AlertState.RESOLVED))
        if bot is not None:
            alerts = alerts.where(_ALERTS.c.bot == bot)
        locks = select(*_lock.columns).order_by(_LOCKS.c.bot, _LOCKS.c.env)
        deployments = self._in_state({State.LIVE, *ACTIVE_STATES}, bot)  # one query for both
        return StatusFacts(
            live=[d for d in deployments if d.state is State.LIVE],
            active=[d for d in deployments if d.state in ACTIVE_STATES],
            locks=[_lock(row) for row in self._rows(locks)],
            open_alerts=[_alert(row) for row in self._rows(alerts.order_by(_ALERTS.c.id))],
        )

    def runs_before(
        self, env: str, bots: Collection[str], *, limit: int, leave_out: Collection[int]
    ) -> list[Spell]:
        if not bots:
            return []
        wanted = {"env": env, "bots": sorted(set(bots)), "limit": limit, "out": sorted(leave_out)}
        return [_spell(row) for row in self._rows(_RUNS_BEFORE, wanted)]


def _runs_before() -> Any:
    """The newest `limit` deployments of each bot in `env`, numbered per bot by a window
    (all of them count), of which those that reached live: built once, hundreds of bots
    and ids bound as expanding parameters."""
    table = _DEPLOYMENTS
    newest = func.row_number().over(partition_by=table.c.bot, order_by=table.c.id.desc())
    ranked = (
        select(table.c.id, newest.label("n"))
        .where(table.c.env == bindparam("env"), table.c.bot.in_(bindparam("bots", expanding=True)))
        .subquery()
    )
    return (
        select(*_spell.columns)
        .join(ranked, ranked.c.id == table.c.id)
        .where(
            ranked.c.n <= bindparam("limit"),
            table.c.live_at.is_not(None),
            table.c.id.not_in(bindparam("out", expanding=True)),
        )
        .order_by(table.c.bot, table.c.id.desc())
    )


_RUNS_BEFORE = _runs_before()
