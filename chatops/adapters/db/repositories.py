"""The repositories of services.ports on SQLAlchemy: rows in, frozen domain values out."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Executable, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import Select

from chatops.adapters.db.tables import (
    AlertRow,
    AuditEventRow,
    Base,
    ChatMessageRow,
    DeploymentRow,
    LeaseRow,
    LockRow,
    ReleaseRow,
    VoteRow,
)
from chatops.domain.alerts import Alert, AlertState
from chatops.domain.approvals import Decision, Vote
from chatops.domain.audit import AuditEvent, Outcome
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, Kind, Release, State
from chatops.domain.policy import Lock, LockKind
from chatops.errors import StoreError
from chatops.services.ports import Conflict, MessageRef, SlotTaken

__all__ = [
    "SqlAlertRepository",
    "SqlAuditLog",
    "SqlDeploymentRepository",
    "SqlLeaseRepository",
    "SqlLockRepository",
    "SqlMessageRepository",
    "SqlReleaseRepository",
    "SqlVoteRepository",
]

_Row = TypeVar("_Row", bound=Base)


# ── helpers ──────────────────────────────────────────────────────────────────


def _first(session: Session, stmt: Select[tuple[_Row]]) -> _Row | None:
    """The first row of `stmt`, re-read from the database (see `_all`)."""
    return session.scalars(stmt.limit(1).execution_options(populate_existing=True)).first()


def _all(session: Session, stmt: Select[tuple[_Row]]) -> Sequence[_Row]:
    """The rows of `stmt`, re-read from the database.

    Upserts, deletes and bulk updates below run as plain SQL and do not touch
    the session's identity map, so every read refreshes what it returns.
    """
    return session.scalars(stmt.execution_options(populate_existing=True)).all()


def _run(session: Session, stmt: Executable) -> int:
    """Execute a write statement in the session's transaction; the number of rows it touched."""
    # Without preserve_rowcount, psycopg reports -1 for an INSERT.
    options = {"preserve_rowcount": True}
    return session.connection().execute(stmt, execution_options=options).rowcount


def _upsert(
    session: Session,
    entity: type[Base],
    values: dict[str, Any],
    *,
    key: Sequence[InstrumentedAttribute[Any]],
    where: Any = None,
) -> int:
    """INSERT … ON CONFLICT (key) DO UPDATE [WHERE …]; 1 when a row was written, else 0."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(entity).values(values)
    changes = {name: stmt.excluded[name] for name in values if name not in {k.key for k in key}}
    return _run(session, stmt.on_conflict_do_update(index_elements=key, set_=changes, where=where))


# ── releases ─────────────────────────────────────────────────────────────────


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
        row = _first(self._session, stmt)
        return _release(row) if row else None

    def for_commit(self, bot: str, commit: str) -> Release | None:
        stmt = select(ReleaseRow).where(ReleaseRow.bot == bot, ReleaseRow.commit == commit)
        row = _first(self._session, stmt)
        return _release(row) if row else None

    def list(self, bot: str, limit: int = 20) -> list[Release]:
        stmt = (
            select(ReleaseRow)
            .where(ReleaseRow.bot == bot)
            .order_by(ReleaseRow.version.desc())
            .limit(limit)
        )
        return [_release(row) for row in _all(self._session, stmt)]

    def highest_version(self, bot: str) -> int:
        stmt = select(func.max(ReleaseRow.version)).where(ReleaseRow.bot == bot)
        return self._session.scalar(stmt) or 0


# ── deployments ──────────────────────────────────────────────────────────────


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
    """The exclusive slots the deployment's state holds (unique columns; NULL holds nothing)."""
    bot_env = f"{deployment.bot}/{deployment.env}"
    return {
        "running_slot": bot_env if deployment.state in IN_PROGRESS_STATES else None,
        "pending_slot": bot_env if deployment.state == State.PENDING_APPROVAL else None,
        "build_slot": deployment.bot if deployment.state == State.BUILDING else None,
    }


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
                written = _run(self._session, stmt)
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
        row = _first(self._session, stmt)
        return _deployment(row) if row else None

    def holder(self, bot: str, env: str) -> Deployment | None:
        for column in (DeploymentRow.running_slot, DeploymentRow.pending_slot):
            row = _first(self._session, select(DeploymentRow).where(column == f"{bot}/{env}"))
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
        row = _first(self._session, stmt)
        return _deployment(row) if row else None

    def history(self, bot: str, env: str | None = None, limit: int = 50) -> list[Deployment]:
        stmt = select(DeploymentRow).where(DeploymentRow.bot == bot)
        if env is not None:
            stmt = stmt.where(DeploymentRow.env == env)
        stmt = stmt.order_by(DeploymentRow.id.desc()).limit(limit)
        return [_deployment(row) for row in _all(self._session, stmt)]

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
        return _run(self._session, stmt)


# ── approvals, locks, audit ──────────────────────────────────────────────────


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
        _upsert(self._session, VoteRow, values, key=key, where=changed)

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
            for row in _all(self._session, stmt)
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
        row = _first(self._session, select(LockRow).where(LockRow.bot == bot, LockRow.env == env))
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
        _upsert(self._session, LockRow, values, key=[LockRow.bot, LockRow.env])

    def delete(self, bot: str, env: str) -> bool:
        stmt = delete(LockRow).where(LockRow.bot == bot, LockRow.env == env)
        return _run(self._session, stmt) > 0

    def list(self) -> list[Lock]:
        stmt = select(LockRow).order_by(LockRow.bot, LockRow.env)
        return [_lock(row) for row in _all(self._session, stmt)]


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
        return [_audit_event(row) for row in _all(self._session, stmt)]

    def prune(self, before: datetime) -> int:
        result = self._session.execute(delete(AuditEventRow).where(AuditEventRow.at < before))
        return int(getattr(result, "rowcount", 0) or 0)


# ── alerts ───────────────────────────────────────────────────────────────────


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
        row = _first(self._session, stmt)
        return _alert(row) if row else None

    def open_alerts(self, bot: str | None = None) -> list[Alert]:
        stmt = select(AlertRow).where(AlertRow.state != str(AlertState.RESOLVED))
        if bot is not None:
            stmt = stmt.where(AlertRow.bot == bot)
        return [_alert(row) for row in _all(self._session, stmt.order_by(AlertRow.id))]

    def history(self, bot: str, limit: int = 100) -> list[Alert]:
        stmt = select(AlertRow).where(AlertRow.bot == bot).order_by(AlertRow.id.desc())
        return [_alert(row) for row in _all(self._session, stmt.limit(limit))]


# ── chat messages, leases ────────────────────────────────────────────────────


class SqlMessageRepository:
    """Which chat message stands for which subject, both ways."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, subject: str) -> MessageRef | None:
        stmt = select(ChatMessageRow).where(ChatMessageRow.subject == subject)
        row = _first(self._session, stmt)
        return MessageRef(channel=row.channel, ts=row.ts) if row else None

    def put(self, subject: str, ref: MessageRef) -> None:
        values = {"subject": subject, "channel": ref.channel, "ts": ref.ts}
        _upsert(self._session, ChatMessageRow, values, key=[ChatMessageRow.subject])

    def subject_of(self, ref: MessageRef) -> str | None:
        stmt = select(ChatMessageRow.subject).where(
            ChatMessageRow.channel == ref.channel, ChatMessageRow.ts == ref.ts
        )
        return self._session.scalar(stmt)


class SqlLeaseRepository:
    """Named leases; taking one is a single atomic statement, safe across processes."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def acquire(self, name: str, *, owner: str, now: datetime, ttl_seconds: float) -> bool:
        values = {"name": name, "owner": owner, "expires_at": now + timedelta(seconds=ttl_seconds)}
        ours_or_expired = or_(LeaseRow.owner == owner, LeaseRow.expires_at <= now)
        written = _upsert(
            self._session, LeaseRow, values, key=[LeaseRow.name], where=ours_or_expired
        )
        return written == 1

    def release(self, name: str, *, owner: str) -> None:
        _run(self._session, delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))

    def holder(self, name: str) -> tuple[str, datetime] | None:
        stmt = select(LeaseRow.owner, LeaseRow.expires_at).where(LeaseRow.name == name)
        row = self._session.execute(stmt).first()
        return (row.owner, row.expires_at) if row else None
