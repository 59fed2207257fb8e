"""Chunks of submitted jobs on SQLite and PostgreSQL: one runner holds a chunk at a time,
a lease that runs out lets another take it over (and the first then finds it lost), a
cancelled job's chunks stop, and a job is closed, with its `job.finished` event, once."""

from __future__ import annotations

import time

from sqlalchemy import select

from leadq.core.result import LeadError
from leadq.storage import chunks
from leadq.storage.jobs import JobLedger
from leadq.storage.models import OutboxMessage
from leadq.storage.store import Store

ROWS = [{"lead_name": f"Lead {i}", "company_name": f"Co {i}"} for i in range(7)]


def test_one_runner_at_a_time_and_a_lapsed_lease_is_taken_over(store: Store) -> None:
    job_id, spans = chunks.submit(store, "test", ROWS, 3, {})
    assert spans == [(1, 3), (4, 6), (7, 7)]
    a = chunks.claim_next(store, "a", lease=30)
    b = chunks.claim_next(store, "b", lease=0.2)
    assert a is not None
    assert b is not None
    assert (a.first_row, b.first_row, a.attempts) == (1, 4, 1)
    assert chunks.claim(store, job_id, 1, "c", lease=30) is None  # a holds it
    assert chunks.chunk_state(store, job_id, 1)[0] == "running"  # type: ignore[index]
    assert [row for row, _ in chunks.pending_inputs(store, a)] == [1, 2, 3]

    time.sleep(0.3)  # b's lease runs out: c takes the chunk over
    c = chunks.claim(store, job_id, 4, "c", lease=30)
    assert c is not None
    assert c.attempts == 2
    assert chunks.renew(store, b, "b", lease=30) == "lost"
    assert not chunks.end(store, b, "b", "done")
    assert chunks.renew(store, a, "a", lease=30) == "held"
    assert chunks.end(store, a, "a", "done")
    assert chunks.chunk_state(store, job_id, 1)[0] == "done"  # type: ignore[index]
    assert chunks.claim(store, job_id, 1, "d", lease=30) is None  # done: nothing to claim
    assert chunks.chunk_state(store, "nojob", 1) is None


def test_a_job_closes_once_with_its_event(store: Store) -> None:
    store.events = True
    job_id, _ = chunks.submit(store, "test", ROWS[:2], 1, {})
    ledger = JobLedger(store)
    error = LeadError(error="invalid_input", message="bad", retryable=False)
    for owner in ("a", "b"):
        chunk = chunks.claim_next(store, owner, lease=30)
        assert chunk is not None
        ledger.finish_rows(job_id, [(chunk.first_row, None, error)])
        assert chunks.end(store, chunk, owner, "done")
    assert chunks.close_if_complete(store, job_id, events=True)
    assert not chunks.close_if_complete(store, job_id, events=True)
    with store.session() as s:
        payloads = s.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.event_type == "job.finished")
        ).all()
    assert len(payloads) == 1
    assert payloads[0]["data"]["failed"] == 2
    job = chunks.describe_job(store, job_id)
    assert job is not None
    assert (job["status"], job["done"], job["failed"]) == ("done", 2, 2)


def test_cancel_stops_queued_and_running_chunks(store: Store) -> None:
    job_id, _ = chunks.submit(store, "test", ROWS, 3, {})
    running = chunks.claim_next(store, "a", lease=30)
    assert running is not None
    assert chunks.cancel(store, job_id)
    assert not chunks.cancel(store, job_id)  # once
    assert chunks.renew(store, running, "a", lease=30) == "cancelled"
    assert chunks.claim_next(store, "b", lease=30) is None  # its queued chunks will not run
    assert not chunks.close_if_complete(store, job_id, events=False)
    job = chunks.describe_job(store, job_id)
    assert job is not None
    assert job["status"] == "cancelled"
    assert job["chunks"]["cancelled"] == 2


def test_retry_queues_again_only_the_chunks_with_reopened_rows(store: Store) -> None:
    job_id, _ = chunks.submit(store, "test", ROWS, 3, {})
    ledger = JobLedger(store)
    busy = LeadError(error="provider_unavailable", message="503", retryable=True)
    while (chunk := chunks.claim_next(store, "a", lease=30)) is not None:
        rows = range(chunk.first_row, chunk.last_row + 1)
        ledger.finish_rows(job_id, [(r, None, busy) for r in rows])
        chunks.end(store, chunk, "a", "done")
    assert chunks.close_if_complete(store, job_id, events=False)
    assert ledger.reopen_failed(job_id) == 7
    assert chunks.requeue_pending(store, job_id) == [(1, 3), (4, 6), (7, 7)]
    assert chunks.describe_job(store, job_id)["status"] == "running"  # type: ignore[index]


def test_a_chunk_tried_too_often_fails_its_pending_rows(store: Store) -> None:
    job_id, _ = chunks.submit(store, "test", ROWS[:3], 3, {})
    chunk = chunks.claim_next(store, "a", lease=30)
    assert chunk is not None
    failed = chunks.fail_rows(store, chunk, "a", {"error": "job_chunk_failed", "retryable": True})
    assert failed == 3
    assert chunks.close_if_complete(store, job_id, events=False)
    job = chunks.describe_job(store, job_id)
    assert job is not None
    assert (job["failed"], job["chunks"]["failed"]) == (3, 1)
