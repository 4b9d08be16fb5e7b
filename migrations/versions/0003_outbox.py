"""The outbox of chat messages waiting to be sent, and the pacing of chat methods per channel.

Revision ID: 0003_outbox
Revises: 0002_edge
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0003_outbox"
down_revision: str | None = "0002_edge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(length=255)
WORD = sa.String(length=32)
LABEL = sa.String(length=64)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", NAME, nullable=False),
        sa.Column("kind", WORD, nullable=False),
        sa.Column("channel", NAME, nullable=False),
        sa.Column("thread_of", NAME, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("blocks", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("queued_at", TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("claimed_by", NAME, nullable=True),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("subject", name="uq_outbox_subject"),
    )
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])

    op.create_table(
        "outbox_pace",
        sa.Column("method", LABEL, nullable=False),
        sa.Column("channel", NAME, nullable=False),
        sa.Column("next_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("method", "channel", name="pk_outbox_pace"),
    )


def downgrade() -> None:
    op.drop_table("outbox_pace")
    op.drop_index("ix_outbox_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
