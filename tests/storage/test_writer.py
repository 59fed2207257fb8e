"""The writer process: batches stored as `finish_rows` stores them, and its failures raised
in the command's process, not lost with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadq.core.result import LeadError
from leadq.storage.jobs import JobLedger
from leadq.storage.store import Store
from leadq.storage.writer import JobWriter, WriterError
from tests.storage.test_jobs import RULES, _lead, _stored


def test_batches_are_stored_once_in_their_rows(store: Store, db_url: str, tmp_path: Path) -> None:
    ledger = JobLedger(store)
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", 5)
    leads = {i: _lead(i) for i in range(1, 6)}
    error = LeadError(error="invalid_input", message="bad", retryable=False, field="row")
    writer = JobWriter(db_url, job.id)
    writer.submit([(1, leads[1], RULES.qualify_now(leads[1])), (2, None, error)])
    # Row 1 again (a repeated batch): still pending only once, so stored once.
    writer.submit([(i, leads[i], RULES.qualify_now(leads[i])) for i in (1, 3, 4)])
    writer.close()
    rows = list(ledger.outcomes(job.id))
    assert [(row, status) for row, status, _ in rows] == [
        (1, "done"),
        (2, "error"),
        (3, "done"),
        (4, "done"),
        (5, "pending"),
    ]
    done = [payload for _, status, payload in rows if status == "done" and payload is not None]
    assert [payload["lead_id"] for payload in done] == [
        "J-1",
        "J-3",
        "J-4",
    ]
    assert _stored(store) == 3


def test_a_failure_to_store_is_raised_and_its_rows_stay_pending(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    ledger = JobLedger(store)
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", 2)
    lead = _lead(1)
    writer = JobWriter(db_url, job.id)
    # Row 2's outcome is not one: the batch fails inside the writer process, and its
    # transaction (row 1 too) is rolled back.
    bad = [(1, lead, RULES.qualify_now(lead)), (2, lead, "not an outcome")]
    writer.submit(bad)  # type: ignore[arg-type]
    with pytest.raises(WriterError, match="storing results failed"):
        writer.close()
    assert ledger.pending(job.id) == [1, 2]
    assert _stored(store) == 0


def test_one_writer_stores_the_batches_of_two_jobs(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    # The server's runner keeps one writer for every chunk it runs: each batch names its job.
    ledger = JobLedger(store)
    first, _ = ledger.open(tmp_path / "a.csv", "hash-a", 3)
    second, _ = ledger.open(tmp_path / "b.csv", "hash-b", 2)
    leads = {i: _lead(i) for i in range(1, 4)}
    writer = JobWriter(db_url, patient=True)
    try:
        writer.submit([(1, leads[1], RULES.qualify_now(leads[1]))], job_id=first.id)
        writer.submit(
            [(i, leads[i], RULES.qualify_now(leads[i])) for i in (1, 2)], job_id=second.id
        )
        writer.submit([(i, leads[i], RULES.qualify_now(leads[i])) for i in (2, 3)], job_id=first.id)
        writer.sync()
        assert ledger.pending(first.id) == []
        assert ledger.pending(second.id) == []
        assert [payload["lead_id"] for _, _, payload in ledger.outcomes(first.id) if payload] == [
            "J-1",
            "J-2",
            "J-3",
        ]
        assert [payload["lead_id"] for _, _, payload in ledger.outcomes(second.id) if payload] == [
            "J-1",
            "J-2",
        ]
        assert _stored(store) == 5
        assert writer.usable
        with pytest.raises(ValueError, match="job_id"):  # no job of its own: a batch names one
            writer.submit([])
    finally:
        writer.close()


def test_sync_returns_once_every_batch_submitted_is_stored(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    ledger = JobLedger(store)
    rows = 3000
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", rows)
    lead = _lead(1)
    outcome = RULES.qualify_now(lead)
    writer = JobWriter(db_url, job.id)
    try:
        # Large batches, each taking the process a while to store: what `submit` returns
        # after is taken, not stored; `sync` returns after they are stored.
        for first in range(1, rows + 1, 1000):
            writer.submit([(row, lead, outcome) for row in range(first, first + 1000)])
        writer.sync()
        assert ledger.pending(job.id) == []
        assert _stored(store) == rows
        writer.sync()  # nothing new: answered at once
    finally:
        writer.close()


def test_sync_raises_the_writers_failure_and_the_writer_is_not_used_again(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    ledger = JobLedger(store)
    first, _ = ledger.open(tmp_path / "a.csv", "hash-a", 1)
    second, _ = ledger.open(tmp_path / "b.csv", "hash-b", 2)
    lead = _lead(1)
    writer = JobWriter(db_url, patient=True)
    writer.submit([(1, lead, RULES.qualify_now(lead))], job_id=first.id)
    writer.sync()
    bad = [(1, lead, RULES.qualify_now(lead)), (2, lead, "not an outcome")]
    writer.submit(bad, job_id=second.id)  # type: ignore[arg-type]
    with pytest.raises(WriterError, match="storing results failed"):
        writer.sync()
    assert not writer.usable
    with pytest.raises(WriterError):
        writer.submit([(1, lead, RULES.qualify_now(lead))], job_id=second.id)
    with pytest.raises(WriterError):
        writer.close()
    assert ledger.pending(first.id) == []  # stored before the failure
    assert ledger.pending(second.id) == [1, 2]
    assert _stored(store) == 1
