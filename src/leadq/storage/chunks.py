"""Submitted jobs in the database: their chunks (the workers' tasks), the runner that holds
each one, the workers that are alive, and what a job's progress is. The database is the
source of truth: a chunk delivered twice, or to a second runner after the first died, finds
its finished rows finished (`JobLedger.finish_rows`) and qualifies only the rest.

A chunk is `queued`, then `running` under one runner's lease (`owner`, `lease_until`, moved
ahead while it runs), then `done`; or `cancelled` with its job, or `failed` when it was
tried `MAX_ATTEMPTS` times (its pending rows then get an error each). A `running` chunk
whose lease ran out is claimed again as if queued. Claims are one statement, on PostgreSQL
with FOR UPDATE SKIP LOCKED, so runners on several machines never hold one chunk at once."""

from __future__ import annotations

import socket
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, exists, func, insert, or_, select, update

from leadq.storage.models import Job, JobChunk, JobItem, JobWorker, Qualification
from leadq.storage.store import Store, _chunks
from leadq.storage.webhooks import add_events, job_finished

MAX_ATTEMPTS = 5  # claims of one chunk before its pending rows are failed
WORKER_HEARTBEAT = 5.0  # seconds between a worker's "alive" marks
WORKER_GONE = 3 * WORKER_HEARTBEAT  # a worker not seen for this long is not counted
CHUNK_STATUSES = ("queued", "running", "done", "failed", "cancelled")
JOB_STATUSES = ("queued", "running", "done", "cancelled", "incomplete")

_jobs = cast(Table, Job.__table__)
_items = cast(Table, JobItem.__table__)
_chunks_t = cast(Table, JobChunk.__table__)
_workers = cast(Table, JobWorker.__table__)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(at: datetime | None) -> datetime | None:
    """A stored time as UTC (SQLite gives back UTC times without their zone)."""
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Chunk:
    """A chunk as a runner holds it."""

    id: int
    job_id: str
    first_row: int
    last_row: int
    attempts: int  # claims so far, this one included


def make_owner(kind: str) -> str:
    """A runner's name: where it runs, and a random part (one process may hold several)."""
    return f"{kind}:{socket.gethostname()[:40]}:{uuid.uuid4().hex[:12]}"


# ---- submitting ------------------------------------------------------------------------------


def submit(
    store: Store,
    source: str,
    rows: Sequence[Any],
    chunk_rows: int,
    options: dict[str, Any],
) -> tuple[str, list[tuple[int, int]]]:
    """A new `api` job of `rows` (lead dicts, or the text of why a row is no lead), its rows
    and its chunks of `chunk_rows`, in one transaction. Returns the job id and the chunks'
    `(first_row, last_row)`."""
    job_id = uuid.uuid4().hex[:12]
    now = _now()
    total = len(rows)
    spans = [
        (first, min(first + chunk_rows - 1, total)) for first in range(1, total + 1, chunk_rows)
    ]
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        conn.execute(
            insert(_jobs).values(
                id=job_id,
                source=source[:1000],
                source_hash=job_id,  # not a file's content: nothing else is this job
                created_at=now,
                total=total,
                kind="api",
                options=options,
            )
        )
        for part in _chunks(range(total), 5000):
            conn.execute(
                insert(_items),
                [
                    {"job_id": job_id, "row": i + 1, "status": "pending", "input": rows[i]}
                    for i in part
                ],
            )
        if spans:
            conn.execute(
                insert(_chunks_t),
                [
                    {"job_id": job_id, "first_row": f, "last_row": last, "status": "queued"}
                    for f, last in spans
                ],
            )
        else:  # nothing to do: finished as it starts
            conn.execute(update(_jobs).where(_jobs.c.id == job_id).values(finished_at=now))
    return job_id, spans


def remove(store: Store, job_id: str) -> None:
    """Delete a job with its rows and chunks (one whose chunks could not be queued)."""
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        for table in (_chunks_t, _items):
            conn.execute(delete(table).where(table.c.job_id == job_id))
        conn.execute(delete(_jobs).where(_jobs.c.id == job_id))


def pending_inputs(store: Store, chunk: Chunk) -> list[tuple[int, Any]]:
    """The chunk's rows still pending, in order, with each row as submitted."""
    query = (
        select(_items.c.row, _items.c.input, _items.c.status)
        .where(
            _items.c.job_id == chunk.job_id,
            _items.c.row >= chunk.first_row,
            _items.c.row <= chunk.last_row,
        )
        .order_by(_items.c.row)
    )
    with store.engine.connect() as conn:
        return [(row, raw) for row, raw, status in conn.execute(query) if status == "pending"]


# ---- claiming and holding a chunk --------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    return or_(
        _chunks_t.c.status == "queued",
        and_(_chunks_t.c.status == "running", _chunks_t.c.lease_until < now),
    )


def _claim(store: Store, where: Any, owner: str, lease: float) -> Chunk | None:
    """The oldest chunk matching `where` that nobody holds, now held by `owner`. Chosen (FOR
    UPDATE SKIP LOCKED on PostgreSQL), then taken by an update that checks again that it is
    free: a runner that chose the same chunk at the same moment gets none, and tries the next.
    (One statement, `UPDATE ... WHERE id IN (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)`,
    took every free chunk on PostgreSQL: the planner ran the subquery again for each row.)"""
    for _ in range(3):
        now = _now()
        target = (
            select(_chunks_t.c.id)
            .where(where, _claimable(now))
            .order_by(_chunks_t.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with store.writing(), store.session.begin() as s:
            conn = s.connection()
            chosen = conn.execute(target).scalar()
            if chosen is None:
                return None
            found = conn.execute(
                update(_chunks_t)
                .where(_chunks_t.c.id == chosen, _claimable(now))
                .values(
                    status="running",
                    owner=owner,
                    lease_until=now + timedelta(seconds=lease),
                    attempts=_chunks_t.c.attempts + 1,
                    started_at=func.coalesce(_chunks_t.c.started_at, now),
                )
                .returning(
                    _chunks_t.c.id,
                    _chunks_t.c.job_id,
                    _chunks_t.c.first_row,
                    _chunks_t.c.last_row,
                    _chunks_t.c.attempts,
                )
            ).first()
            if found is None:
                continue
            chunk = Chunk(*found)
            conn.execute(
                update(_jobs)
                .where(_jobs.c.id == chunk.job_id, _jobs.c.started_at.is_(None))
                .values(started_at=now)
            )
            return chunk
    return None


def claim_next(store: Store, owner: str, lease: float) -> Chunk | None:
    """The oldest chunk of any job that nobody holds, now held by `owner` for `lease` s."""
    return _claim(store, True, owner, lease)


def claim(store: Store, job_id: str, first_row: int, owner: str, lease: float) -> Chunk | None:
    """That chunk, if nobody holds it (queued, or its runner's lease ran out)."""
    where = (_chunks_t.c.job_id == job_id) & (_chunks_t.c.first_row == first_row)
    return _claim(store, where, owner, lease)


def chunk_state(store: Store, job_id: str, first_row: int) -> tuple[str, datetime | None] | None:
    """`(status, lease_until)` of a chunk; None when there is no such chunk (or job)."""
    query = select(_chunks_t.c.status, _chunks_t.c.lease_until).where(
        _chunks_t.c.job_id == job_id, _chunks_t.c.first_row == first_row
    )
    with store.engine.connect() as conn:
        found = conn.execute(query).first()
    return (found[0], _utc(found[1])) if found else None


def renew(store: Store, chunk: Chunk, owner: str, lease: float) -> str:
    """Move the lease ahead: `held`; `lost` (another runner has it, or it ended); or
    `cancelled` (its job was cancelled)."""
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        moved = conn.execute(
            update(_chunks_t)
            .where(
                _chunks_t.c.id == chunk.id,
                _chunks_t.c.owner == owner,
                _chunks_t.c.status == "running",
            )
            .values(lease_until=_now() + timedelta(seconds=lease))
        ).rowcount
        if not moved:
            return "lost"
        cancelled = conn.execute(
            select(_jobs.c.cancelled_at).where(_jobs.c.id == chunk.job_id)
        ).scalar()
        return "cancelled" if cancelled is not None else "held"


def end(store: Store, chunk: Chunk, owner: str, status: str) -> bool:
    """The chunk ended (`done`, `cancelled`, or `queued` again when handed back); False if
    `owner` no longer held it."""
    values: dict[str, Any] = {"status": status, "lease_until": None}
    if status == "queued":
        values["owner"] = None
    else:
        values["finished_at"] = _now()
    with store.writing(), store.session.begin() as s:
        return bool(
            s.connection()
            .execute(
                update(_chunks_t)
                .where(
                    _chunks_t.c.id == chunk.id,
                    _chunks_t.c.owner == owner,
                    _chunks_t.c.status == "running",
                )
                .values(**values)
            )
            .rowcount
        )


def fail_rows(store: Store, chunk: Chunk, owner: str, error: dict[str, Any]) -> int:
    """Give the chunk's pending rows `error` each and mark the chunk failed: what a chunk
    tried `MAX_ATTEMPTS` times ends as. Returns how many rows."""
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        failed = conn.execute(
            update(_items)
            .where(
                _items.c.job_id == chunk.job_id,
                _items.c.row >= chunk.first_row,
                _items.c.row <= chunk.last_row,
                _items.c.status == "pending",
            )
            .values(status="error", error=error)
        ).rowcount
        conn.execute(
            update(_chunks_t)
            .where(_chunks_t.c.id == chunk.id, _chunks_t.c.owner == owner)
            .values(status="failed", lease_until=None, finished_at=_now())
        )
        return int(failed)


def close_if_complete(store: Store, job_id: str, events: bool) -> bool:
    """Mark the job finished when none of its chunks is left to run; True for the one
    caller that did (its `job.finished` event goes to the webhook outbox in the same
    transaction when `events`)."""
    left = select(func.count()).where(
        _chunks_t.c.job_id == job_id, _chunks_t.c.status.in_(("queued", "running"))
    )
    with store.engine.connect() as conn:
        if conn.execute(left).scalar_one():
            return False
    now = _now()
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        closed = conn.execute(
            update(_jobs)
            .where(
                _jobs.c.id == job_id,
                _jobs.c.finished_at.is_(None),
                _jobs.c.cancelled_at.is_(None),
                ~exists().where(
                    _chunks_t.c.job_id == job_id, _chunks_t.c.status.in_(("queued", "running"))
                ),
            )
            .values(finished_at=now)
        ).rowcount
        if closed and events:
            counts = _status_counts(conn, _items, [job_id]).get(job_id, Counter())
            add_events(s, [job_finished(job_id, counts, now)])
        return bool(closed)


# ---- cancelling and retrying ---------------------------------------------------------------------


def cancel(store: Store, job_id: str) -> bool:
    """Cancel a job that has not finished: its queued chunks are not run, a running one
    stops at its runner's next lease renewal; its rows not run stay pending. False when it
    had finished or was cancelled already."""
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        done = conn.execute(
            update(_jobs)
            .where(
                _jobs.c.id == job_id, _jobs.c.finished_at.is_(None), _jobs.c.cancelled_at.is_(None)
            )
            .values(cancelled_at=_now())
        ).rowcount
        if done:
            conn.execute(
                update(_chunks_t)
                .where(_chunks_t.c.job_id == job_id, _chunks_t.c.status == "queued")
                .values(status="cancelled", finished_at=_now())
            )
        return bool(done)


def requeue_pending(store: Store, job_id: str) -> list[tuple[int, int]]:
    """Queue again the job's chunks that hold pending rows (after its failed rows were
    reopened); returns their `(first_row, last_row)`."""
    has_pending = exists().where(
        _items.c.job_id == job_id,
        _items.c.status == "pending",
        _items.c.row >= _chunks_t.c.first_row,
        _items.c.row <= _chunks_t.c.last_row,
    )
    with store.writing(), store.session.begin() as s:
        found = s.connection().execute(
            update(_chunks_t)
            .where(
                _chunks_t.c.job_id == job_id,
                _chunks_t.c.status.in_(("done", "failed")),
                has_pending,
            )
            .values(status="queued", owner=None, lease_until=None, finished_at=None)
            .returning(_chunks_t.c.first_row, _chunks_t.c.last_row)
        )
        return sorted((first, last) for first, last in found)


def unfinished_chunks(store: Store) -> list[tuple[str, int, int]]:
    """Every queued chunk, `(job_id, first_row, last_row)`, oldest first."""
    query = (
        select(_chunks_t.c.job_id, _chunks_t.c.first_row, _chunks_t.c.last_row)
        .where(_chunks_t.c.status == "queued")
        .order_by(_chunks_t.c.id)
    )
    with store.engine.connect() as conn:
        return [(j, f, last) for j, f, last in conn.execute(query)]


# ---- reading jobs ----------------------------------------------------------------------------


def _status_counts(conn: Any, table: Table, job_ids: Iterable[str]) -> dict[str, Counter[str]]:
    """Rows of `table` (job items or chunks) by job and status."""
    out: dict[str, Counter[str]] = {}
    for part in _chunks(list(job_ids)):
        query = (
            select(table.c.job_id, table.c.status, func.count())
            .where(table.c.job_id.in_(part))
            .group_by(table.c.job_id, table.c.status)
        )
        for job_id, status, n in conn.execute(query):
            out.setdefault(job_id, Counter())[status] = n
    return out


def job_status(kind: str, started: Any, finished: Any, cancelled: Any) -> str:
    """queued, running, done, cancelled; a `leadq qualify` job not finished is incomplete
    (its command may be running, or may have stopped: `--resume` continues it)."""
    if cancelled is not None:
        return "cancelled"
    if finished is not None:
        return "done"
    if kind != "api":
        return "incomplete"
    return "running" if started is not None else "queued"


def _describe(row: Any, items: Counter[str], chunks: Counter[str], now: datetime) -> dict[str, Any]:
    created, started = _utc(row.created_at), _utc(row.started_at)
    finished, cancelled = _utc(row.finished_at), _utc(row.cancelled_at)
    succeeded, failed = items.get("done", 0), items.get("error", 0)
    done = succeeded + failed
    pending = max(0, row.total - done)
    status = job_status(row.kind, started, finished, cancelled)
    rate = eta = None
    if started is not None and done:
        seconds = ((finished or cancelled or now) - started).total_seconds()
        if seconds > 0:
            rate = done / seconds
            if status == "running" and rate > 0:
                eta = pending / rate
    return {
        "id": row.id,
        "kind": row.kind,
        "source": row.source,
        "status": status,
        "total": row.total,
        "done": done,
        "succeeded": succeeded,
        "failed": failed,
        "pending": pending,
        "rate": rate,
        "eta_seconds": eta,
        "chunks": {s: chunks.get(s, 0) for s in CHUNK_STATUSES} if row.kind == "api" else None,
        "created_at": created.isoformat() if created else None,
        "started_at": started.isoformat() if started else None,
        "finished_at": finished.isoformat() if finished else None,
        "cancelled_at": cancelled.isoformat() if cancelled else None,
        "warnings": (row.options or {}).get("warnings") or [],
    }


_JOB_COLUMNS = (
    _jobs.c.id,
    _jobs.c.kind,
    _jobs.c.source,
    _jobs.c.total,
    _jobs.c.created_at,
    _jobs.c.started_at,
    _jobs.c.finished_at,
    _jobs.c.cancelled_at,
    _jobs.c.options,
)


def describe_jobs(
    store: Store, job_ids: Sequence[str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Jobs with their progress: those of `job_ids`, else the newest `limit`."""
    query = select(*_JOB_COLUMNS)
    if job_ids is not None:
        query = query.where(_jobs.c.id.in_(list(job_ids)))
    else:
        query = query.order_by(_jobs.c.created_at.desc(), _jobs.c.id).limit(limit)
    now = _now()
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        items, chunks = _status_counts(conn, _items, ids), _status_counts(conn, _chunks_t, ids)
    return [
        _describe(r, items.get(r.id, Counter()), chunks.get(r.id, Counter()), now) for r in rows
    ]


def describe_job(store: Store, job_id: str) -> dict[str, Any] | None:
    found = describe_jobs(store, [job_id])
    return found[0] if found else None


def job_options(store: Store, job_id: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        found = conn.execute(select(_jobs.c.options).where(_jobs.c.id == job_id)).first()
    return dict(found[0] or {}) if found else {}


def records(
    store: Store, job_id: str, page: int = 1000, *, after: int = 0, pending: bool = True
) -> Iterable[tuple[int, str, dict[str, Any] | None, Any]]:
    """`(row, status, result-or-error, input)` for every row after row `after` (without the
    pending ones unless `pending`), in row order, a page at a time (each page in a short
    read of its own: a slow download holds no connection)."""
    quals = cast(Table, Qualification.__table__)
    query = (
        select(
            _items.c.row,
            _items.c.status,
            _items.c.error,
            _items.c.input,
            quals.c.id,
            quals.c.lead_ref,
            quals.c.result,
        )
        .outerjoin(quals, quals.c.id == _items.c.qualification_id)
        .where(_items.c.job_id == job_id)
        .order_by(_items.c.row)
        .limit(page)
    )
    if not pending:
        query = query.where(_items.c.status != "pending")
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(query.where(_items.c.row > after)).all()
        if not rows:
            return
        after = rows[-1][0]
        for row, status, error, raw, qid, lead_ref, result in rows:
            if qid is not None:
                result.update(qualification_id=qid, lead_ref=lead_ref)
                yield row, status, result, raw
            else:
                yield row, status, error, raw


# ---- workers -----------------------------------------------------------------------------------


def worker_alive(
    store: Store, worker_id: str, queues: str, concurrency: int, pid: int, started: datetime
) -> None:
    """Say that this worker is alive (a row of its own, `seen_at` now)."""
    now = _now()
    with store.writing(), store.session.begin() as s:
        conn = s.connection()
        moved = conn.execute(
            update(_workers).where(_workers.c.id == worker_id).values(seen_at=now)
        ).rowcount
        if not moved:
            conn.execute(
                insert(_workers).values(
                    id=worker_id,
                    host=socket.gethostname()[:200],
                    pid=pid,
                    queues=queues[:500],
                    concurrency=concurrency,
                    started_at=started,
                    seen_at=now,
                )
            )
        # Rows of workers that died without saying so go after a while.
        conn.execute(delete(_workers).where(_workers.c.seen_at < now - timedelta(hours=1)))


def worker_gone(store: Store, worker_id: str) -> None:
    with store.writing(), store.session.begin() as s:
        s.connection().execute(delete(_workers).where(_workers.c.id == worker_id))


def gauges(store: Store) -> dict[str, Any]:
    """For /metrics: chunks by status, jobs (`api` ones) by status, workers alive."""
    now = _now()
    with store.engine.connect() as conn:
        by_status = select(_chunks_t.c.status, func.count()).group_by(_chunks_t.c.status)
        chunks = {str(status): int(n) for status, n in conn.execute(by_status)}
        jobs: Counter[str] = Counter()
        flags = (
            _jobs.c.started_at.is_not(None),
            _jobs.c.finished_at.is_not(None),
            _jobs.c.cancelled_at.is_not(None),
        )
        by_state = select(*flags, func.count()).where(_jobs.c.kind == "api").group_by(*flags)
        for started, finished, cancelled, n in conn.execute(by_state):
            jobs[job_status("api", started or None, finished or None, cancelled or None)] += n
        workers = conn.execute(
            select(func.count()).where(_workers.c.seen_at >= now - timedelta(seconds=WORKER_GONE))
        ).scalar_one()
    return {
        "chunks": {s: int(chunks.get(s, 0)) for s in CHUNK_STATUSES},
        "jobs": {s: jobs.get(s, 0) for s in JOB_STATUSES if s != "incomplete"},
        "workers": int(workers),
    }
