"""cache erasures: an erased lead's Redis entries are removed even if Redis was away

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_erasures",
        sa.Column(
            "lead_ref",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cache_erasures")
