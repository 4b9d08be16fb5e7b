"""The initial schema: releases, deployments, votes, locks, alerts, audit, chat messages, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(length=255)
WORD = sa.String(length=32)
LABEL = sa.String(length=64)
SLOT = sa.String(length=511)
SHA = sa.String(length=64)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot", NAME, nullable=False),
        sa.Column("env", NAME, nullable=False),
        sa.Column("kind", WORD, nullable=False),
        sa.Column("state", WORD, nullable=False),
        sa.Column("requested_by", NAME, nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("ref", NAME, nullable=True),
        sa.Column("commit", SHA, nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("source_deployment_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("force_reason", sa.Text(), nullable=True),
        sa.Column("owner", NAME, nullable=True),
        sa.Column("heartbeat_at", TIME, nullable=True),
        sa.Column("live_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("healthy_since", TIME, nullable=True),
        sa.Column("soak_noticed_at", TIME, nullable=True),
        sa.Column("rolled_back", sa.Boolean(), nullable=False),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("running_slot", SLOT, nullable=True),
        sa.Column("pending_slot", SLOT, nullable=True),
        sa.Column("build_slot", NAME, nullable=True),
        sa.ForeignKeyConstraint(
            ["source_deployment_id"],
            ["deployments.id"],
            name="fk_deployments_source_deployment_id_deployments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.UniqueConstraint("build_slot", name="uq_deployments_build_slot"),
        sa.UniqueConstraint("pending_slot", name="uq_deployments_pending_slot"),
        sa.UniqueConstraint("running_slot", name="uq_deployments_running_slot"),
    )
    op.create_index("ix_deployments_bot_env", "deployments", ["bot", "env"])
    op.create_index("ix_deployments_state", "deployments", ["state"])

    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot", NAME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("commit", SHA, nullable=False),
        sa.Column("tag", NAME, nullable=False),
        sa.Column("image", sa.Text(), nullable=False),
        sa.Column("image_id", NAME, nullable=False),
        sa.Column("digest", NAME, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name="fk_releases_deployment_id_deployments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.UniqueConstraint("bot", "commit", name="uq_releases_bot_commit"),
        sa.UniqueConstraint("bot", "version", name="uq_releases_bot_version"),
    )

    op.create_table(
        "votes",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", NAME, nullable=False),
        sa.Column("decision", WORD, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name="fk_votes_deployment_id_deployments"
        ),
        sa.PrimaryKeyConstraint("deployment_id", "user_id", name="pk_votes"),
    )

    op.create_table(
        "locks",
        sa.Column("bot", NAME, nullable=False),
        sa.Column("env", NAME, nullable=False),
        sa.Column("held_by", NAME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("kind", WORD, nullable=False),
        sa.PrimaryKeyConstraint("bot", "env", name="pk_locks"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot", NAME, nullable=False),
        sa.Column("env", NAME, nullable=False),
        sa.Column("source", LABEL, nullable=False),
        sa.Column("fingerprint", NAME, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("state", WORD, nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("acked_by", NAME, nullable=True),
        sa.Column("acked_at", TIME, nullable=True),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("action_taken", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name="fk_alerts_deployment_id_deployments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_bot_env_fingerprint", "alerts", ["bot", "env", "fingerprint"])
    op.create_index("ix_alerts_state", "alerts", ["state"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("action", LABEL, nullable=False),
        sa.Column("outcome", WORD, nullable=False),
        sa.Column("source", LABEL, nullable=False),
        sa.Column("bot", NAME, nullable=True),
        sa.Column("env", NAME, nullable=True),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_bot", "audit_events", ["bot"])
    op.create_index("ix_audit_events_deployment_id", "audit_events", ["deployment_id"])

    op.create_table(
        "chat_messages",
        sa.Column("subject", NAME, nullable=False),
        sa.Column("channel", NAME, nullable=False),
        sa.Column("ts", LABEL, nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_chat_messages"),
        sa.UniqueConstraint("channel", "ts", name="uq_chat_messages_channel_ts"),
    )

    op.create_table(
        "leases",
        sa.Column("name", NAME, nullable=False),
        sa.Column("owner", NAME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    for table in (
        "leases",
        "chat_messages",
        "audit_events",
        "alerts",
        "locks",
        "votes",
        "releases",
        "deployments",
    ):
        op.drop_table(table)
