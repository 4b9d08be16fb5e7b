"""Why a rollback was asked for, kept apart from why it failed or was rejected.

Revision ID: 0006_reason
Revises: 0005_verify
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0006_reason"
down_revision: str | None = "0005_verify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("request_reason", sa.Text(), nullable=True))
    # rollbacks recorded before: their reason is the request's unless they ended otherwise
    op.execute(
        "UPDATE deployments SET request_reason = reason "
        "WHERE kind IN ('rollback', 'auto_rollback') AND state NOT IN ('failed', 'rejected', 'expired')"
    )


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("request_reason")
