"""Deliveries already handled (Slack retries, webhook ids) and heads wanted after a busy push.

Revision ID: 0002_edge
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0002_edge"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(length=255)
SHA = sa.String(length=64)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", NAME, nullable=False),
        sa.Column("seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_seen_at", "deliveries", ["seen_at"])
    op.create_table(
        "wanted_heads",
        sa.Column("bot", NAME, nullable=False),
        sa.Column("env", NAME, nullable=False),
        sa.Column("commit", SHA, nullable=False),
        sa.Column("requested_by", NAME, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("bot", "env", name="pk_wanted_heads"),
    )


def downgrade() -> None:
    op.drop_table("wanted_heads")
    op.drop_index("ix_deliveries_seen_at", table_name="deliveries")
    op.drop_table("deliveries")
