"""model trainings: a training started over HTTP is a row, so any server process answers for it

Revision ID: 0010_model_trainings
Revises: 0009_server_jobs
Create Date: 2026-12-14 09:00:00

`POST /api/models/train` kept its trainings in the memory of the process that started it: with
several workers, asking for one went to whichever process answered. Each is now a row
(running, done with its model, or failed with why) with a heartbeat, and a partial unique
index keeps one running at a time across processes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_model_trainings"
down_revision = "0009_server_jobs"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_trainings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("model_id", _ID, nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["model_id"], ["conversion_models.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_trainings_started_at", "model_trainings", ["started_at"])
    op.create_index(
        "ix_model_trainings_one_running",
        "model_trainings",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'running'"),
        postgresql_where=sa.text("state = 'running'"),
    )


def downgrade() -> None:
    op.drop_table("model_trainings")
