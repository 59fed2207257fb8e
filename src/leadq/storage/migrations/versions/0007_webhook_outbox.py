"""webhook outbox: every stored qualification is queued, in its own transaction, to be sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00

One row per event to send (`lead.qualified` for now; other event types use the same table),
pending until the receiver answers 2xx or the attempts run out. A lead's rows go with it
when it is erased.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("lead_ref", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["lead_ref"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_outbox_due", ["status", "next_attempt_at"])
        batch_op.create_index(batch_op.f("ix_webhook_outbox_lead_ref"), ["lead_ref"])
        batch_op.create_index(batch_op.f("ix_webhook_outbox_created_at"), ["created_at"])


def downgrade() -> None:
    op.drop_table("webhook_outbox")
