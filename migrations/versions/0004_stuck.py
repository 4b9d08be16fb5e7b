"""Deployments: a cancel request the owner notices, and a revision for compare-and-set saves.

Revision ID: 0004_stuck
Revises: 0003_outbox
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0004_stuck"
down_revision: str | None = "0003_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("cancel_requested_by", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("revision")
        batch.drop_column("cancel_requested_at")
        batch.drop_column("cancel_requested_by")
