"""server jobs: leads submitted to POST /api/jobs, run in chunks by the server or by workers

Revision ID: 0009_server_jobs
Revises: 0008
Create Date: 2026-12-12 09:00:00

A job says who runs it (`kind`: `file` for `leadq qualify`, `api` for a submitted job), when
it started and whether it was cancelled; each of its rows keeps the lead as submitted, for a
worker on another machine to read. Chunks are the workers' tasks, each claimed by one runner
under a lease; workers say they are alive in `job_workers`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_server_jobs"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="file", nullable=False)
        )
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=True))
    with op.batch_alter_table("job_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("input", sa.JSON(), nullable=True))
    op.create_table(
        "job_chunks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("last_row", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "first_row", name="uq_job_chunks_job_first"),
    )
    op.create_index("ix_job_chunks_status", "job_chunks", ["status"])
    op.create_table(
        "job_workers",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.String(length=500), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_workers_seen_at", "job_workers", ["seen_at"])


def downgrade() -> None:
    op.drop_table("job_workers")
    op.drop_table("job_chunks")
    with op.batch_alter_table("job_items", schema=None) as batch_op:
        batch_op.drop_column("input")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("options")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("kind")
