"""The database tables, as SQLAlchemy 2.0 declarative models; migrations/ owns the schema."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AlertRow",
    "AuditEventRow",
    "Base",
    "ChatMessageRow",
    "DeliveryRow",
    "DeploymentRow",
    "LeaseRow",
    "LockRow",
    "MeasurementRow",
    "OutboxPaceRow",
    "OutboxRow",
    "ReleaseRow",
    "UtcDateTime",
    "VoteRow",
    "WantedHeadRow",
]

# Stable constraint names, so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME = 255  # bots, environments, users, owners, refs
WORD = 32  # enum values: states, kinds, decisions, outcomes
LABEL = 64  # free-form short words: audit actions, event sources


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC and read back as UTC.

    SQLite keeps no time zone: values are written as UTC wall time (so that
    comparisons in SQL still order them) and tagged UTC again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store the naive datetime {value.isoformat()}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base; its metadata is what migrations are compared against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


class ReleaseRow(Base):
    """One immutable build of one commit of one bot."""

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("bot", "version"),
        UniqueConstraint("bot", "commit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot: Mapped[str] = mapped_column(String(NAME))
    version: Mapped[int] = mapped_column(Integer)
    commit: Mapped[str] = mapped_column(String(64))
    tag: Mapped[str] = mapped_column(String(NAME))
    image: Mapped[str] = mapped_column(Text)
    image_id: Mapped[str] = mapped_column(String(NAME))
    digest: Mapped[str] = mapped_column(String(NAME))
    created_by: Mapped[str] = mapped_column(String(NAME))
    created_at: Mapped[datetime]
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    source: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)


class DeploymentRow(Base):
    """One attempt to make a release live in an environment.

    The three ``*_slot`` columns are derived from the state on every write and
    are unique: they make the database refuse a second deployment in progress
    (or pending) for one (bot, env), and a second build of one bot.
    """

    __tablename__ = "deployments"
    __table_args__ = (
        Index(None, "bot", "env"),
        Index(None, "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot: Mapped[str] = mapped_column(String(NAME))
    env: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(WORD))
    state: Mapped[str] = mapped_column(String(WORD))
    requested_by: Mapped[str] = mapped_column(String(NAME))
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ref: Mapped[str | None] = mapped_column(String(NAME))
    commit: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    previous_version: Mapped[int | None] = mapped_column(Integer)
    source_deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    force_reason: Mapped[str | None] = mapped_column(Text)
    # why a rollback was asked for; `reason` is replaced by a failure or a reject
    request_reason: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(NAME))
    heartbeat_at: Mapped[datetime | None]
    live_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    healthy_since: Mapped[datetime | None]
    soak_noticed_at: Mapped[datetime | None]
    rolled_back: Mapped[bool] = mapped_column(Boolean)
    log_tail: Mapped[str] = mapped_column(Text)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(NAME))
    cancel_requested_at: Mapped[datetime | None]
    # who promoted it although the source's verification was inconclusive (DESIGN §10)
    verification_override: Mapped[str | None] = mapped_column(String(NAME))
    # bumped by every save, which changes the row only from the revision it read
    revision: Mapped[int] = mapped_column(Integer, server_default="0")
    running_slot: Mapped[str | None] = mapped_column(String(2 * NAME + 1), unique=True)
    pending_slot: Mapped[str | None] = mapped_column(String(2 * NAME + 1), unique=True)
    build_slot: Mapped[str | None] = mapped_column(String(NAME), unique=True)


class VoteRow(Base):
    """One person's approve or reject of one deployment."""

    __tablename__ = "votes"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    decision: Mapped[str] = mapped_column(String(WORD))
    at: Mapped[datetime]


class LockRow(Base):
    """A hold on (bot, env)."""

    __tablename__ = "locks"

    bot: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    env: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    held_by: Mapped[str] = mapped_column(String(NAME))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(WORD))


class AlertRow(Base):
    """A health problem of a live deployment."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(None, "bot", "env", "fingerprint"),
        Index(None, "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot: Mapped[str] = mapped_column(String(NAME))
    env: Mapped[str] = mapped_column(String(NAME))
    source: Mapped[str] = mapped_column(String(LABEL))
    fingerprint: Mapped[str] = mapped_column(String(NAME))
    summary: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(WORD))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    version: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    acked_by: Mapped[str | None] = mapped_column(String(NAME))
    acked_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    action_taken: Mapped[str] = mapped_column(Text)


class AuditEventRow(Base):
    """One command or button press; append-only.

    `deployment_id` has no foreign key: a refused request may name a deployment
    that does not exist, and that is worth recording too.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index(None, "bot"),
        Index(None, "deployment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(NAME))
    action: Mapped[str] = mapped_column(String(LABEL))
    outcome: Mapped[str] = mapped_column(String(WORD))
    source: Mapped[str] = mapped_column(String(LABEL))
    bot: Mapped[str | None] = mapped_column(String(NAME))
    env: Mapped[str | None] = mapped_column(String(NAME))
    deployment_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)


class ChatMessageRow(Base):
    """The chat message that stands for a subject (a deployment, an alert)."""

    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("channel", "ts"),)

    subject: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    channel: Mapped[str] = mapped_column(String(NAME))
    ts: Mapped[str] = mapped_column(String(64))


class LeaseRow(Base):
    """A named lease, held by one process until it expires (e.g. the scheduler's)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    owner: Mapped[str] = mapped_column(String(NAME))
    expires_at: Mapped[datetime]


class DeliveryRow(Base):
    """A delivery already handled (a Slack request's trigger or event id, a webhook's id).

    Replicas share it, so a retried or replayed delivery is handled once; rows are
    pruned after a while.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index(None, "seen_at"),)

    key: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    seen_at: Mapped[datetime]


class WantedHeadRow(Base):
    """A branch head that (bot, env) should run once the deployment holding it ends."""

    __tablename__ = "wanted_heads"

    bot: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    env: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    commit: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(NAME))
    at: Mapped[datetime]


class OutboxRow(Base):
    """A chat message waiting to be sent: the newest content of one subject.

    One row per subject: a newer state of a message replaces the content of a row
    still waiting (`revision` counts the replacements), so only the newest is sent.
    A sender claims the row (`claimed_by` until `claimed_until`) while it sends.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(NAME), unique=True)
    kind: Mapped[str] = mapped_column(String(WORD))
    channel: Mapped[str] = mapped_column(String(NAME))
    thread_of: Mapped[str | None] = mapped_column(String(NAME))
    text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(NAME))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxPaceRow(Base):
    """When a chat method may next be called for a channel, shared by every sender."""

    __tablename__ = "outbox_pace"

    method: Mapped[str] = mapped_column(String(LABEL), primary_key=True)
    channel: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    next_at: Mapped[datetime]


class MeasurementRow(Base):
    """One judged measurement of one verification check of a live deployment (DESIGN §10)."""

    __tablename__ = "measurements"
    __table_args__ = (Index(None, "deployment_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    check: Mapped[str] = mapped_column(String(NAME))
    value: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(WORD))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
