"""Verification measurements in the database (ports.MeasurementRepository)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatops.adapters.db.tables import MeasurementRow
from chatops.domain.verification import Measurement, Verdict

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

    def for_deployments(self, deployment_ids: Collection[int]) -> list[Measurement]:
        if not deployment_ids:
            return []
        rows = self._session.scalars(
            select(MeasurementRow)
            .where(MeasurementRow.deployment_id.in_(list(deployment_ids)))
            .order_by(MeasurementRow.at, MeasurementRow.id)
        )
        return [
            Measurement(
                check=row.check,
                verdict=Verdict(row.verdict),
                at=row.at,
                value=row.value,
                detail=row.detail,
                deployment_id=row.deployment_id,
            )
            for row in rows
        ]
