"""Verification measurements in the database (ports.MeasurementRepository)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import DateTime, and_, bindparam, delete, func, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from chatops.adapters.db.tables import DeploymentRow, MeasurementRow
from chatops.domain.deployment import State
from chatops.domain.verification import Measurement, Tally, Verdict

__all__ = ["SqlMeasurementRepository"]

_DETAIL_CHARS = 500


class SqlMeasurementRepository:
    """Append-only: a measurement is never changed once recorded."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, measurement: Measurement) -> None:
        if measurement.deployment_id is None:
            raise ValueError("a measurement belongs to a deployment: give its id")
        self._session.add(
            MeasurementRow(
                deployment_id=measurement.deployment_id,
                check=measurement.check,
                value=measurement.value,
                verdict=str(measurement.verdict),
                detail=measurement.detail[:_DETAIL_CHARS],
                at=measurement.at,
            )
        )  # written with the others of the round at the next query or commit

    def for_deployments(
        self, deployment_ids: Collection[int], *, limit: int | None = None
    ) -> list[Measurement]:
        if not deployment_ids:
            return []
        # newest first, so that `limit` keeps the newest; turned oldest first below
        rows = self._session.scalars(
            select(MeasurementRow)
            .where(MeasurementRow.deployment_id.in_(list(deployment_ids)))
            .order_by(MeasurementRow.at.desc(), MeasurementRow.id.desc())
            .limit(limit)
        ).all()
        return [
            Measurement(
                check=row.check,
                verdict=Verdict(row.verdict),
                at=row.at,
                value=row.value,
                detail=row.detail,
                deployment_id=row.deployment_id,
            )
            for row in reversed(rows)
        ]

    def prune(self, *, before: datetime) -> int:
        """Delete measurements older than `before` of deployments no longer live; how many."""
        ended = select(DeploymentRow.id).where(DeploymentRow.state != str(State.LIVE))
        stmt = delete(MeasurementRow).where(
            MeasurementRow.at < before, MeasurementRow.deployment_id.in_(ended)
        )
        return int(self._session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]

    def tallies(self, deployment_ids: Collection[int]) -> list[Tally]:
        """The measurements of these deployments summed up per (check, verdict), in SQL:
        the details read are the last failure's and the first inconclusive one's."""
        if not deployment_ids:
            return []
        ids = MeasurementRow.deployment_id.in_(list(deployment_ids))
        groups = self._session.execute(
            select(
                MeasurementRow.check,
                MeasurementRow.verdict,
                func.count(),
                func.min(MeasurementRow.at),
                func.max(MeasurementRow.at),
            )
            .where(ids)
            .group_by(MeasurementRow.check, MeasurementRow.verdict)
        ).all()
        found = []
        for check, raw, count, first_at, last_at in groups:
            verdict = Verdict(raw)
            first_detail = last_detail = ""
            if verdict is Verdict.INCONCLUSIVE:
                first_detail = self._detail(ids, check, raw, first=True)
            if verdict is Verdict.FAIL:
                last_detail = self._detail(ids, check, raw, first=False)
            found.append(
                Tally(
                    check,
                    verdict,
                    int(count),
                    _utc(first_at),
                    _utc(last_at),
                    first_detail,
                    last_detail,
                )
            )
        return found

    def tallies_by_deployment(self, deployment_ids: Collection[int]) -> dict[int, list[Tally]]:
        """`tallies` of each deployment, in two queries: the groups, then the details
        (the last failure's, the first inconclusive one's) picked by a window."""
        if not deployment_ids:
            return {}
        ids = {"ids": sorted(set(deployment_ids))}
        self._session.flush()  # plain rows through the connection: no ORM result to build
        connection = self._session.connection()
        details = {
            (deployment_id, check, raw): detail or ""
            for deployment_id, check, raw, detail in connection.execute(_DETAILS, ids)
        }
        found: dict[int, list[Tally]] = {}
        for deployment_id, check, raw, count, first_at, last_at in connection.execute(_GROUPS, ids):
            verdict = _VERDICTS[raw]
            detail = details.get((deployment_id, check, raw), "")
            found.setdefault(deployment_id, []).append(
                Tally(
                    check,
                    verdict,
                    int(count),
                    _utc(first_at),
                    _utc(last_at),
                    detail if verdict is Verdict.INCONCLUSIVE else "",
                    detail if verdict is Verdict.FAIL else "",
                )
            )
        return found

    def _detail(self, ids: ColumnElement[bool], check: str, verdict: str, *, first: bool) -> str:
        # in the order `domain.verification.tally` takes them: by time, then as recorded
        order = (
            (MeasurementRow.at.asc(), MeasurementRow.id.asc())
            if first
            else (MeasurementRow.at.desc(), MeasurementRow.id.desc())
        )
        detail = self._session.scalar(
            select(MeasurementRow.detail)
            .where(ids, MeasurementRow.check == check, MeasurementRow.verdict == verdict)
            .order_by(*order)
            .limit(1)
        )
        return detail or ""


def _utc(value: datetime) -> datetime:
    """Aggregates bypass the column type: tag SQLite's naive UTC values as UTC again."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# `tallies_by_deployment`'s queries, built once: the web overview asks for hundreds of
# deployments on every view, and their ids are bound as one expanding parameter
_VERDICTS = {str(verdict): verdict for verdict in Verdict}
_IDS = MeasurementRow.deployment_id.in_(bindparam("ids", expanding=True))
_AT = type_coerce(MeasurementRow.at, DateTime(timezone=True))  # tagged UTC by `_utc`
_GROUPS = (
    select(
        MeasurementRow.deployment_id,
        MeasurementRow.check,
        MeasurementRow.verdict,
        func.count(),
        func.min(_AT),
        func.max(_AT),
    )
    .where(_IDS)
    .group_by(MeasurementRow.deployment_id, MeasurementRow.check, MeasurementRow.verdict)
)
_KEYS = (MeasurementRow.deployment_id, MeasurementRow.check, MeasurementRow.verdict)
_ORDER = MeasurementRow.at
_RANKED = (
    select(
        *_KEYS,
        MeasurementRow.detail,
        func.row_number()
        .over(partition_by=_KEYS, order_by=(_ORDER.asc(), MeasurementRow.id.asc()))
        .label("nth_first"),
        func.row_number()
        .over(partition_by=_KEYS, order_by=(_ORDER.desc(), MeasurementRow.id.desc()))
        .label("nth_last"),
    )
    .where(_IDS, MeasurementRow.verdict.in_([str(Verdict.FAIL), str(Verdict.INCONCLUSIVE)]))
    .subquery()
)
_DETAILS = select(
    _RANKED.c.deployment_id, _RANKED.c.check, _RANKED.c.verdict, _RANKED.c.detail
).where(
    or_(
        and_(_RANKED.c.verdict == str(Verdict.INCONCLUSIVE), _RANKED.c.nth_first == 1),
        and_(_RANKED.c.verdict == str(Verdict.FAIL), _RANKED.c.nth_last == 1),
    )
)
