"""Tables. A lead has many qualifications (nothing is overwritten); every provider call
attempt is logged; batch jobs have one item per input row."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Ids are 64-bit, as the API's are: on PostgreSQL BIGINT; on SQLite INTEGER, which is 64-bit
# there and must stay INTEGER to remain the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")
# An erased row's id is not given to a new one (the API's ids and `lead_ref` keys stay one
# person's): SQLite's AUTOINCREMENT (migration 0006); PostgreSQL's sequences do it anyway.
NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Lead(Base):
    """A person at a company, identified by `lead_key` (see `storage.identity`). The latest
    score and action are kept here too, so that listing leads needs no join."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_key: Mapped[str] = mapped_column(String(450), unique=True)
    lead_id: Mapped[str | None] = mapped_column(String(200))
    lead_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    company_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latest_qualification_id: Mapped[int | None] = mapped_column(Id)
    latest_score: Mapped[float | None] = mapped_column(Float)
    latest_action: Mapped[str | None] = mapped_column(String(40))
    qualification_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_leads_latest_score", "latest_score"),
        Index("ix_leads_latest_action", "latest_action"),
        NEVER_REUSED,
    )


class Qualification(Base):
    """One result, with what it was computed from and by whom."""

    __tablename__ = "qualifications"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Client-made unique id: bulk inserts read ids back by it, so they can batch (an
    # order-preserving RETURNING makes SQLAlchemy insert SQLite rows one at a time).
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    lead_ref: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    input_hash: Mapped[str] = mapped_column(String(64), index=True)
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    overall_score: Mapped[float] = mapped_column(Float)
    fit_score: Mapped[float] = mapped_column(Float)
    budget_score: Mapped[float] = mapped_column(Float)
    urgency_score: Mapped[float] = mapped_column(Float)
    authority_score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    recommended_action: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(120))
    prompt_version: Mapped[str] = mapped_column(String(40))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = NEVER_REUSED


class ProviderCall(Base):
    """One attempt at a provider call (retries are separate rows)."""

    __tablename__ = "provider_calls"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_ref: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(40))  # "ok" or the error code
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)  # the provider's time
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    error_class: Mapped[str | None] = mapped_column(String(120))
    # Before the call, in leadq's own rate-limit queue: not the provider's time.
    queue_ms: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))

    __table_args__ = NEVER_REUSED


class LeadOutcome(Base):
    """What happened to a lead (won, lost, no_response, disqualified) and when; linked to the
    qualification that was the lead's latest when it was recorded (its variant and action)."""

    __tablename__ = "outcomes"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_ref: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    qualification_id: Mapped[int | None] = mapped_column(
        ForeignKey("qualifications.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """A batch; resumable. `kind` says who runs it: `file`, `leadq qualify` in its own process
    (`source_hash` identifies the file's content); `api`, submitted to `POST /api/jobs` and
    run in chunks (`JobChunk`) by the server or by `leadq worker` processes."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    total: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), default="file", server_default="file")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How it was submitted: the file's attribute names (a CSV download's columns), whether
    # the result cache is used, the file's warnings.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobItem(Base):
    """One input row of a job: pending, done (with its qualification) or error."""

    __tablename__ = "job_items"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    qualification_id: Mapped[int | None] = mapped_column(
        ForeignKey("qualifications.id", ondelete="SET NULL")
    )
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The row as submitted (an `api` job's workers read it from here; a `file` job's command
    # reads its file again): the lead's fields, or the text of why the row is no lead.
    input: Mapped[Any] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        UniqueConstraint("job_id", "row", name="uq_job_items_job_row"),
        Index("ix_job_items_job_status", "job_id", "status"),
    )


class JobChunk(Base):
    """Rows `first_row..last_row` of an `api` job: one task for a worker. Claimed by one
    runner at a time (`owner`, until `lease_until`, which the runner keeps moving ahead);
    a runner that dies leaves it to be claimed again when the lease runs out."""

    __tablename__ = "job_chunks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    first_row: Mapped[int] = mapped_column(Integer)
    last_row: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # queued, running, done, failed, cancelled
    owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("job_id", "first_row", name="uq_job_chunks_job_first"),
        Index("ix_job_chunks_status", "status"),
    )


class JobWorker(Base):
    """A live `leadq worker` (or a server running jobs itself), as it last said: `seen_at`
    moves every few seconds while it runs; the row goes when it stops."""

    __tablename__ = "job_workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(500))
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CacheErasure(Base):
    """An erased lead whose Redis cache entries may still exist (Redis was away, or the
    process died, when it was erased). While any row is here, Redis hits are not served;
    the cache removes the entries and the row as soon as Redis answers."""

    __tablename__ = "cache_erasures"

    lead_ref: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """An event to send as a webhook (`storage/webhooks.py`), written in the transaction that
    made it: pending until the receiver answers 2xx (delivered) or the attempts run out
    (failed). Its id is the `webhook-id` header, the same on every attempt. A lead's
    messages go when the lead is erased (they carry its name and email)."""

    __tablename__ = "webhook_outbox"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_ and 32 hex digits
    event_type: Mapped[str] = mapped_column(String(60))  # lead.qualified, ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    lead_ref: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer)
    # When a pending message is due; a deliverer that claims it moves this past its attempt.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_webhook_outbox_due", "status", "next_attempt_at"),)


class ConversionModel(Base):
    """A trained conversion model (`leadq train`): what it learned from (the label, the row
    counts, the sha256 of the rows), its evaluation report, the weights the server scores
    with (`scorer`, plain numbers), and the scikit-learn model itself. At most one is active."""

    __tablename__ = "conversion_models"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    label: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(500))
    rows: Mapped[int] = mapped_column(Integer)
    converted: Mapped[int] = mapped_column(Integer)
    not_converted: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    scorer: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_conversion_models_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
        NEVER_REUSED,
    )


class ModelTraining(Base):
    """One training started over HTTP (`POST /api/models/train`): running, done (with the
    model it stored) or failed (with why), so that any server process answers for it. A
    running one moves `heartbeat_at` every few seconds; one whose heartbeat stopped (its
    process ended) is failed. At most one runs at a time."""

    __tablename__ = "model_trainings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))  # running, done, failed
    source: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversion_models.id", ondelete="SET NULL")
    )
    verdict: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (
        Index(
            "ix_model_trainings_one_running",
            "state",
            unique=True,
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
    )
