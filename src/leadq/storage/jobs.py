"""Resumable batch jobs: one item per input row. A row is finished exactly once: its
qualification is stored and its item marked in the same transaction, and only while the
item is still pending, so a resumed or repeated run never writes a row twice."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard, cast

from sqlalchemy import Table, bindparam, select, update

from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.core.result import QualificationResult, ResultOrError
from leadq.storage.db import JSONText
from leadq.storage.models import Job, JobItem, Qualification
from leadq.storage.store import Store, _chunks

_items = cast(Table, JobItem.__table__)
_quals = cast(Table, Qualification.__table__)
_finish_item = (
    update(_items)
    .where(_items.c.job_id == bindparam("b_job"), _items.c.row == bindparam("b_row"))
    .values(
        status=bindparam("b_status"), qualification_id=bindparam("b_qid"), error=bindparam("b_err")
    )
)


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: the same file is the same job."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class JobLedger:
    """Jobs and their items in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open(
        self,
        source: Path,
        source_hash: str,
        total: int,
        *,
        job_id: str | None = None,
        new: bool = False,
    ) -> tuple[Job, bool]:
        """The job to run: `job_id` if given (its file must not have changed), else the
        latest job for the same file content unless `new`, else a new one. Returns the job
        and whether it was resumed."""
        with self.store.session.begin() as s:
            if job_id is not None:
                job = s.get(Job, job_id)
                if job is None:
                    raise ValueError(f"no job {job_id!r}")
                if job.source_hash != source_hash:
                    raise ValueError(f"job {job_id} was for a different file content")
                return job, True
            if not new:
                job = s.scalars(
                    select(Job)
                    .where(Job.source_hash == source_hash)
                    .order_by(Job.created_at.desc())
                    .limit(1)
                ).first()
                if job is not None:
                    return job, True
            job = Job(
                id=uuid.uuid4().hex[:12],
                source=str(source),
                source_hash=source_hash,
                created_at=datetime.now(UTC),
                total=total,
            )
            s.add(job)
            s.flush()
            s.connection().execute(  # Core, not the ORM's bulk insert: no per-object work
                _items.insert(),
                [{"job_id": job.id, "row": r, "status": "pending"} for r in range(1, total + 1)],
            )
            return job, False

    def pending(self, job_id: str) -> list[int]:
        """Rows not finished yet, in order."""
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(_items.c.row)
                    .where(_items.c.job_id == job_id, _items.c.status == "pending")
                    .order_by(_items.c.row)
                ).scalars()
            )

    def finish_rows(
        self,
        job_id: str,
        entries: Sequence[tuple[int, LeadInput | None, ResultOrError]],
        calls: Sequence[CallAttempt] = (),
    ) -> int:
        """Store the outcomes of rows still pending and mark them; returns how many."""
        with self.store.session.begin() as s:
            still: set[int] = set()
            conn = s.connection()  # plain rows: no ORM loading for a column of numbers
            for part in _chunks([row for row, _, _ in entries]):
                # The status is tested here, not in SQL: with it in the WHERE clause SQLite
                # searched the (job_id, status) index, reading every pending row of the job
                # for each chunk, so finishing a job took time growing with its size squared.
                found = conn.execute(
                    select(_items.c.row, _items.c.status)
                    .where(_items.c.job_id == job_id, _items.c.row.in_(part))
                    .with_for_update()
                )
                still.update(row for row, status in found if status == "pending")
            todo = [e for e in entries if e[0] in still]
            fresh = [(lead, out) for _, lead, out in todo if not _stored(out)]
            ids = iter(self.store.save_in(s, fresh, calls))
            params = []
            for row, _, outcome in todo:
                # A cache hit points at the stored result it came from; it is not stored again.
                qid = outcome.qualification_id if _stored(outcome) else next(ids)[1]
                ok = isinstance(outcome, QualificationResult)
                params.append(
                    {
                        "b_job": job_id,
                        "b_row": row,
                        "b_status": "done" if ok else "error",
                        "b_qid": qid,
                        "b_err": None if ok else JSONText(outcome.model_dump_json()),
                    }
                )
            if params:
                conn.execute(_finish_item, params)
            return len(todo)

    def finish_rows_patiently(
        self,
        job_id: str,
        entries: Sequence[tuple[int, LeadInput | None, ResultOrError]],
        calls: Sequence[CallAttempt] = (),
    ) -> int:
        """`finish_rows`, tried again while the database is away (up to the store's
        `save_patience`) or another runner added one of these leads at the same moment: a
        repeat finds the rows it stored finished and stores nothing twice."""
        return self.store.patiently(lambda: self.finish_rows(job_id, entries, calls))

    def reopen_failed(self, job_id: str) -> int:
        """Put the job's rows that failed with a retryable error (a provider outage, a rate
        limit, a timeout, an unusable answer) back to pending; invalid leads stay failed.
        Returns how many. The job is unfinished again until it is closed."""
        with self.store.session.begin() as s:
            conn = s.connection()
            failed = conn.execute(
                select(_items.c.row, _items.c.error).where(
                    _items.c.job_id == job_id, _items.c.status == "error"
                )
            )
            rows = [row for row, error in failed if (error or {}).get("retryable")]
            for part in _chunks(rows):
                conn.execute(
                    update(_items)
                    .where(_items.c.job_id == job_id, _items.c.row.in_(part))
                    .values(status="pending", error=None)
                )
            if rows:
                conn.execute(update(Job).where(Job.id == job_id).values(finished_at=None))
            return len(rows)

    def close_job(self, job_id: str) -> None:
        with self.store.session.begin() as s:
            job = s.get(Job, job_id)
            if job is not None and job.finished_at is None:
                job.finished_at = datetime.now(UTC)

    def outcomes(self, job_id: str) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
        """`(row, status, result-or-error)` for every row, in row order. Plain columns
        through the connection, not the ORM: this reads every row of a job, and ORM objects,
        or even the same columns through an ORM session, add work for each of them."""
        query = (
            select(
                _items.c.row,
                _items.c.status,
                _items.c.error,
                _quals.c.id,
                _quals.c.lead_ref,
                _quals.c.result,
            )
            .outerjoin(_quals, _quals.c.id == _items.c.qualification_id)
            .where(_items.c.job_id == job_id)
            .order_by(_items.c.row)
            .execution_options(yield_per=1000)
        )
        with self.store.engine.connect() as conn:
            for row, status, error, qid, lead_ref, result in conn.execute(query):
                if qid is not None:  # `result` is decoded afresh for this row: ours to extend
                    result.update(qualification_id=qid, lead_ref=lead_ref)
                    yield row, status, result
                else:
                    yield row, status, error


def _stored(outcome: ResultOrError) -> TypeGuard[QualificationResult]:
    """A cached result: already a stored qualification."""
    return (
        isinstance(outcome, QualificationResult)
        and outcome.cached
        and outcome.qualification_id is not None
    )
