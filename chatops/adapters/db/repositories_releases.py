"""Releases on SQLAlchemy: one immutable build per (bot, version) and per (bot, commit)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import all_rows, first_row
from chatops.adapters.db.tables import ReleaseRow
from chatops.domain.deployment import Release
from chatops.errors import StoreError

__all__ = ["SqlReleaseRepository"]


def _release(row: ReleaseRow) -> Release:
    return Release(
        bot=row.bot,
        version=row.version,
        commit=row.commit,
        tag=row.tag,
        image=row.image,
        image_id=row.image_id,
        digest=row.digest,
        created_by=row.created_by,
        created_at=row.created_at,
        deployment_id=row.deployment_id,
        source=row.source,
        subject=row.subject,
    )


class SqlReleaseRepository:
    """Releases: unique per (bot, version) and per (bot, commit)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, release: Release) -> Release:
        row = ReleaseRow(
            bot=release.bot,
            version=release.version,
            commit=release.commit,
            tag=release.tag,
            image=release.image,
            image_id=release.image_id,
            digest=release.digest,
            created_by=release.created_by,
            created_at=release.created_at,
            deployment_id=release.deployment_id,
            source=release.source,
            subject=release.subject,
        )
        try:
            with self._session.begin_nested():  # a refusal leaves the transaction usable
                self._session.add(row)
        except IntegrityError as exc:
            raise StoreError(
                f"cannot record {release.bot} v{release.version} of {release.commit[:12]}: "
                "that version or commit has a release already"
            ) from exc
        return _release(row)

    def get(self, bot: str, version: int) -> Release | None:
        stmt = select(ReleaseRow).where(ReleaseRow.bot == bot, ReleaseRow.version == version)
        row = first_row(self._session, stmt)
        return _release(row) if row else None

    def for_commit(self, bot: str, commit: str) -> Release | None:
        stmt = select(ReleaseRow).where(ReleaseRow.bot == bot, ReleaseRow.commit == commit)
        row = first_row(self._session, stmt)
        return _release(row) if row else None

    def list(self, bot: str, limit: int = 20) -> list[Release]:
        stmt = (
            select(ReleaseRow)
            .where(ReleaseRow.bot == bot)
            .order_by(ReleaseRow.version.desc())
            .limit(limit)
        )
        return [_release(row) for row in all_rows(self._session, stmt)]

    def highest_version(self, bot: str) -> int:
        stmt = select(func.max(ReleaseRow.version)).where(ReleaseRow.bot == bot)
        return self._session.scalar(stmt) or 0
