"""Deployments on SQLAlchemy: compare-and-set saves, and the slots that keep them apart."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import all_rows, first_row, write
from chatops.adapters.db.tables import DeploymentRow
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, Kind, State
from chatops.domain.slots import Slot, slots_held
from chatops.errors import StoreError
from chatops.services.ports import Conflict, SlotTaken

__all__ = ["SqlDeploymentRepository"]


def _deployment(row: DeploymentRow) -> Deployment:
    return Deployment(
        id=row.id,
        bot=row.bot,
        env=row.env,
        kind=Kind(row.kind),
        state=State(row.state),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        updated_at=row.updated_at,
        ref=row.ref,
        commit=row.commit,
        version=row.version,
        previous_version=row.previous_version,
        source_deployment_id=row.source_deployment_id,
        reason=row.reason,
        force_reason=row.force_reason,
        request_reason=row.request_reason,
        owner=row.owner,
        heartbeat_at=row.heartbeat_at,
        live_at=row.live_at,
        finished_at=row.finished_at,
        healthy_since=row.healthy_since,
        soak_noticed_at=row.soak_noticed_at,
        rolled_back=row.rolled_back,
        log_tail=row.log_tail,
        cancel_requested_by=row.cancel_requested_by,
        cancel_requested_at=row.cancel_requested_at,
        verification_override=row.verification_override,
        revision=row.revision,
    )


def _slots(deployment: Deployment) -> dict[str, str | None]:
    """The `<slot>_slot` columns of the deployment's state (unique; NULL holds nothing)."""
    held = slots_held(deployment)
    return {f"{slot}_slot": held.get(slot) for slot in Slot}


def _deployment_columns(deployment: Deployment) -> dict[str, Any]:
    return {
        "bot": deployment.bot,
        "env": deployment.env,
        "kind": str(deployment.kind),
        "state": str(deployment.state),
        "requested_by": deployment.requested_by,
        "requested_at": deployment.requested_at,
        "updated_at": deployment.updated_at,
        "ref": deployment.ref,
        "commit": deployment.commit,
        "version": deployment.version,
        "previous_version": deployment.previous_version,
        "source_deployment_id": deployment.source_deployment_id,
        "reason": deployment.reason,
        "force_reason": deployment.force_reason,
        "request_reason": deployment.request_reason,
        "owner": deployment.owner,
        "heartbeat_at": deployment.heartbeat_at,
        "live_at": deployment.live_at,
        "finished_at": deployment.finished_at,
        "healthy_since": deployment.healthy_since,
        "soak_noticed_at": deployment.soak_noticed_at,
        "rolled_back": deployment.rolled_back,
        "log_tail": deployment.log_tail,
        "cancel_requested_by": deployment.cancel_requested_by,
        "cancel_requested_at": deployment.cancel_requested_at,
        "verification_override": deployment.verification_override,
        **_slots(deployment),
    }


class SqlDeploymentRepository:
    """Deployments, with per-(bot, env) and per-bot exclusivity enforced by unique slots.

    A save is a compare-and-set: it changes the row only from the revision the
    deployment was read at, so a write based on a stale read is refused (Conflict),
    never a silent overwrite of what another process or thread saved meanwhile.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, deployment: Deployment) -> Deployment:
        row = DeploymentRow()
        try:
            with self._session.begin_nested():  # a refusal leaves the transaction usable
                for name, value in _deployment_columns(deployment).items():
                    setattr(row, name, value)
                row.revision = 0
                self._session.add(row)
        except IntegrityError as exc:
            raise self._slot_taken(deployment, exc) from None
        return _deployment(row)

    def save(self, deployment: Deployment) -> Deployment:
        if deployment.id is None:
            raise ValueError("cannot save a deployment without an id: add it first")
        stmt = (
            update(DeploymentRow)
            .where(DeploymentRow.id == deployment.id)
            .where(DeploymentRow.revision == deployment.revision)
            .values(**_deployment_columns(deployment), revision=deployment.revision + 1)
        )
        try:
            with self._session.begin_nested():
                written = write(self._session, stmt)
        except IntegrityError as exc:
            raise self._slot_taken(deployment, exc) from None
        if written == 0:
            current = self.get(deployment.id)
            if current is None:
                raise StoreError(f"there is no deployment #{deployment.id} to save")
            raise Conflict(current)
        return dataclasses.replace(deployment, revision=deployment.revision + 1)

    def _slot_taken(self, deployment: Deployment, exc: IntegrityError) -> Exception:
        """SlotTaken naming the holder, or `exc` itself when no slot was the trouble."""
        holder = self._slot_holder(deployment)
        if holder is None and "_slot" not in str(exc.orig):
            return exc
        return SlotTaken(holder)

    def _slot_holder(self, deployment: Deployment) -> int | None:
        """The id of another deployment holding a slot that `deployment` needs."""
        for name, value in _slots(deployment).items():
            if value is None:
                continue
            column = getattr(DeploymentRow, name)
            stmt = select(DeploymentRow.id).where(column == value)
            if deployment.id is not None:
                stmt = stmt.where(DeploymentRow.id != deployment.id)
            holder = self._session.scalar(stmt)
            if holder is not None:
                return holder
        return None

    def get(self, deployment_id: int) -> Deployment | None:
        row = self._session.get(DeploymentRow, deployment_id, populate_existing=True)
        return _deployment(row) if row else None

    def get_for_update(self, deployment_id: int) -> Deployment | None:
        # FOR UPDATE on PostgreSQL; SQLite renders nothing (its writers are serialised anyway).
        stmt = select(DeploymentRow).where(DeploymentRow.id == deployment_id).with_for_update()
        row = first_row(self._session, stmt)
        return _deployment(row) if row else None

    def holder(self, bot: str, env: str) -> Deployment | None:
        for column in (DeploymentRow.running_slot, DeploymentRow.pending_slot):
            row = first_row(self._session, select(DeploymentRow).where(column == f"{bot}/{env}"))
            if row is not None:
                return _deployment(row)
        return None

    def live(self, bot: str, env: str) -> Deployment | None:
        stmt = (
            select(DeploymentRow)
            .where(
                DeploymentRow.bot == bot,
                DeploymentRow.env == env,
                DeploymentRow.state == str(State.LIVE),
            )
            .order_by(DeploymentRow.id.desc())
        )
        row = first_row(self._session, stmt)
        return _deployment(row) if row else None

    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]:
        stmt = select(DeploymentRow).where(DeploymentRow.bot == bot)
        if env is not None:
            stmt = stmt.where(DeploymentRow.env == env)
        stmt = stmt.order_by(DeploymentRow.id.desc()).limit(limit)
        return [_deployment(row) for row in all_rows(self._session, stmt)]

    def histories(
        self,
        env: str,
        bots: Collection[str],
        *,
        limit: int = 50,
        reached_live: bool = False,
        leave_out: Collection[int] = (),
    ) -> list[Deployment]:
        if not bots:
            return []
        # one query: the newest `limit` of each bot, numbered per bot by a window; plain
        # rows, not ORM objects, as in `in_state`: the web overview reads hundreds
        table = DeploymentRow.__table__
        newest = func.row_number().over(partition_by=table.c.bot, order_by=table.c.id.desc())
        ranked = (
            select(table.c.id, newest.label("n"))
            .where(table.c.env == env, table.c.bot.in_(sorted(set(bots))))
            .subquery()
        )
        stmt = (
            select(table)
            .join(ranked, ranked.c.id == table.c.id)
            .where(ranked.c.n <= limit)
            .order_by(table.c.bot, table.c.id.desc())
        )
        if reached_live:
            stmt = stmt.where(table.c.live_at.is_not(None))
        if leave_out:
            stmt = stmt.where(table.c.id.not_in(sorted(leave_out)))
        self._session.flush()
        rows = self._session.execute(stmt).all()
        return [_deployment(cast(DeploymentRow, row)) for row in rows]

    def in_state(self, states: Iterable[str], *, bot: str | None = None) -> list[Deployment]:
        # plain rows, not ORM objects: the web overview reads hundreds of them per view
        table = DeploymentRow.__table__
        stmt = select(table).where(table.c.state.in_([str(state) for state in states]))
        if bot is not None:
            stmt = stmt.where(table.c.bot == bot)
        self._session.flush()
        rows = self._session.execute(stmt.order_by(table.c.id)).all()
        return [_deployment(cast(DeploymentRow, row)) for row in rows]

    def all_live(self) -> list[Deployment]:
        return self.in_state([State.LIVE])

    def heartbeat(self, owner: str, at: datetime, ids: Collection[int]) -> int:
        # heartbeat_at only: a beat is no change of the deployment, so its revision stays
        if not ids:
            return 0
        stmt = (
            update(DeploymentRow)
            .where(
                DeploymentRow.id.in_(sorted(ids)),
                DeploymentRow.owner == owner,
                DeploymentRow.state.in_([str(state) for state in IN_PROGRESS_STATES]),
            )
            .values(heartbeat_at=at)
        )
        return write(self._session, stmt)
