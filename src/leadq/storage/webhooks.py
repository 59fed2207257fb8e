"""The webhook outbox: each event is written in the transaction of what it reports (a stored
qualification and its `lead.qualified` event commit together, or neither does), then
claimed, sent and recorded by a deliverer (`service/webhooks.py`), so a restart loses none.

A message is pending until the receiver answers 2xx (delivered), or refuses it for good or
its attempts run out (failed). Claiming due messages moves their `next_attempt_at` a lease
ahead in one statement (on PostgreSQL with FOR UPDATE SKIP LOCKED): several deliverers (the
workers of `leadq serve`, `leadq webhooks deliver`) share one outbox without sending a
message twice at once, and a deliverer that dies while sending leaves its messages to be
claimed again when the lease runs out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from leadq.core.lead import LeadInput
from leadq.core.result import QualificationResult
from leadq.storage.db import JSONText
from leadq.storage.models import OutboxMessage

if TYPE_CHECKING:  # store.py writes events through this module
    from leadq.storage.store import Store

LEAD_QUALIFIED = "lead.qualified"
JOB_FINISHED = "job.finished"
STATUSES = ("pending", "delivered", "failed")
LEASE = timedelta(seconds=60)  # a claimed message is sent (10 s at most) within this
# What `lead.qualified` carries of a result besides the lead: its shape's own field sets.
_RESULT_FIELDS = {
    *QualificationResult.SCORE_FIELDS,
    *QualificationResult.TEXT_FIELDS,
    *QualificationResult.LIST_FIELDS,
    *QualificationResult.SOURCE_FIELDS,
    "recommended_action",
    "flags",
}

_outbox = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True)
class Claimed:
    """A due message, claimed for one attempt: `body` is the JSON text to send."""

    id: str
    event_type: str
    body: str
    attempts: int  # made before this one


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _iso(at: datetime | None) -> str | None:
    """UTC time as ISO 8601 (SQLite gives back UTC times without their zone)."""
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")


# ---- writing events (inside the caller's transaction) ---------------------------------------


def lead_qualified(
    lead_ref: int, qualification_id: int, lead: LeadInput, result: QualificationResult, at: datetime
) -> dict[str, Any]:
    """The outbox row of one stored qualification. `data` has the CRM's id (`lead_id`), the
    lead, the scores and the action at its top level, for a CRM workflow to map directly."""
    payload = {
        "type": LEAD_QUALIFIED,
        "timestamp": _iso(at),
        "data": {
            "lead_ref": lead_ref,
            "qualification_id": qualification_id,
            "lead_id": lead.lead_id,
            "lead_name": lead.lead_name,
            "company_name": lead.company_name,
            "email": lead.email,
            "attributes": lead.attributes,  # the CRM's own columns, as they were sent
            **result.model_dump(mode="json", include=_RESULT_FIELDS),
        },
    }
    return _outbox_row(LEAD_QUALIFIED, payload, lead_ref, at)


def job_finished(job_id: str, counts: Mapping[str, int], at: datetime) -> dict[str, Any]:
    """The outbox row of a submitted job that finished: its id and how its rows ended (the
    results are at `GET /api/jobs/{id}/results`)."""
    succeeded, failed = counts.get("done", 0), counts.get("error", 0)
    payload = {
        "type": JOB_FINISHED,
        "timestamp": _iso(at),
        "data": {
            "job_id": job_id,
            "status": "done",
            "total": succeeded + failed + counts.get("pending", 0),
            "succeeded": succeeded,
            "failed": failed,
            "results": f"/api/jobs/{job_id}/results",
        },
    }
    return _outbox_row(JOB_FINISHED, payload, None, at)


def _outbox_row(
    event_type: str, payload: Mapping[str, Any], lead_ref: int | None, at: datetime
) -> dict[str, Any]:
    """A new pending outbox row, due at once."""
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "event_type": event_type,
        "payload": JSONText(_json(payload)),
        "lead_ref": lead_ref,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "last_error": None,
        "created_at": at,
        "delivered_at": None,
    }


def add_events(s: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Put `rows` (from `lead_qualified`, ...) in the outbox, in the session's transaction."""
    if rows:
        s.connection().execute(insert(_outbox), list(rows))


# ---- delivering -----------------------------------------------------------------------------


def claim(store: Store, limit: int, due_by: datetime | None = None) -> list[Claimed]:
    """Up to `limit` pending messages due by `due_by` (default: now), oldest due first,
    each claimed for one attempt (no other deliverer takes it for `LEASE`)."""
    now = _now()
    cutoff = min(now, due_by) if due_by is not None else now
    due = (_outbox.c.status == "pending") & (_outbox.c.next_attempt_at <= cutoff)
    with store.engine.connect() as conn:  # a read first: no write lock when nothing is due
        if conn.execute(select(_outbox.c.id).where(due).limit(1)).first() is None:
            return []
    # Chosen first, then taken by id in the same transaction: one statement, `UPDATE ...
    # WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`, claimed more than `n` on
    # PostgreSQL (the planner may run the subquery again for each row).
    oldest = (
        select(_outbox.c.id)
        .where(due)
        .order_by(_outbox.c.next_attempt_at, _outbox.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite writes one at a time anyway
    )
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        chosen = list(conn.execute(oldest).scalars())
        if not chosen:
            return []
        rows = conn.execute(
            update(_outbox)
            .where(_outbox.c.id.in_(chosen), due)  # `due` again: rows another one claimed since
            .values(next_attempt_at=now + LEASE)
            .returning(_outbox.c.id, _outbox.c.event_type, _outbox.c.payload, _outbox.c.attempts)
        ).all()
    return [Claimed(msg_id, kind, _json(payload), n) for msg_id, kind, payload, n in rows]


def record_delivered(store: Store, msg_id: str) -> None:
    """The receiver answered 2xx."""
    _record(store, msg_id, status="delivered", next_attempt_at=None, delivered_at=_now())


def record_failure(store: Store, msg_id: str, error: str, retry_at: datetime | None) -> None:
    """An attempt failed with `error` (redacted by the caller): tried again at `retry_at`, or,
    when None, never (the message is failed)."""
    status = "pending" if retry_at is not None else "failed"
    _record(store, msg_id, status=status, next_attempt_at=retry_at, last_error=error[:500])


def _record(store: Store, msg_id: str, **values: Any) -> None:
    with store.writing(), store.session.begin() as s:
        s.execute(
            update(_outbox)
            .where(_outbox.c.id == msg_id, _outbox.c.status == "pending")
            .values(attempts=_outbox.c.attempts + 1, **values)
        )


# ---- the delivery log -----------------------------------------------------------------------


def deliveries(store: Store, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest messages (of one status, if given), without their payloads."""
    query = select(
        _outbox.c.id,
        _outbox.c.event_type,
        _outbox.c.status,
        _outbox.c.attempts,
        _outbox.c.lead_ref,
        _outbox.c.created_at,
        _outbox.c.next_attempt_at,
        _outbox.c.delivered_at,
        _outbox.c.last_error,
    )
    if status is not None:
        query = query.where(_outbox.c.status == status)
    query = query.order_by(_outbox.c.created_at.desc(), _outbox.c.id).limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            **row,
            "created_at": _iso(row["created_at"]),
            "next_attempt_at": _iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
            "delivered_at": _iso(row["delivered_at"]),
        }
        for row in rows
    ]


def pending_count(store: Store) -> int:
    """How many messages are still to be delivered (a range of the due index)."""
    with store.engine.connect() as conn:
        query = select(func.count()).where(_outbox.c.status == "pending")
        return int(conn.execute(query).scalar_one())


def counts(store: Store) -> dict[str, int]:
    """How many messages are pending, delivered and failed."""
    with store.engine.connect() as conn:
        by_status = select(_outbox.c.status, func.count()).group_by(_outbox.c.status)
        found: dict[str, int] = dict(conn.execute(by_status).all())
    return {status: found.get(status, 0) for status in STATUSES}
