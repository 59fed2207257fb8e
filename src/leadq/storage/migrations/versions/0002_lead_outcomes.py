"""lead outcomes: what happened to a lead, for prompt experiments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_ref", sa.Integer(), nullable=False),
        sa.Column("qualification_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("outcome_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lead_ref"], ["leads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["qualification_id"], ["qualifications.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcomes_lead_ref"), ["lead_ref"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outcomes_qualification_id"), ["qualification_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcomes_qualification_id"))
        batch_op.drop_index(batch_op.f("ix_outcomes_lead_ref"))
    op.drop_table("outcomes")
