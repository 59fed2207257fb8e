"""64-bit ids: the API accepts ids up to 2^63-1, and the tables no longer run out at 2^31

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 23:20:00

On SQLite an INTEGER PRIMARY KEY is already 64-bit: nothing changes there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Every id column, and every column that holds one.
COLUMNS = {
    "leads": ("id", "latest_qualification_id"),
    "qualifications": ("id", "lead_ref"),
    "provider_calls": ("id", "lead_ref"),
    "outcomes": ("id", "lead_ref", "qualification_id"),
    "job_items": ("id", "qualification_id"),
}


def _retype(new: sa.types.TypeEngine[int], sequence_type: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new)
        op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS {sequence_type}")


def upgrade() -> None:
    _retype(sa.BigInteger(), "bigint")


def downgrade() -> None:
    _retype(sa.Integer(), "integer")
