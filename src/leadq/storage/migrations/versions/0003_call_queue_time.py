"""provider calls: queue_ms, the wait in leadq's own rate-limit queue, apart from latency_ms

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_calls") as batch:
        batch.add_column(
            sa.Column("queue_ms", sa.Float(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_calls") as batch:
        batch.drop_column("queue_ms")
