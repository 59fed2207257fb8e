"""Job items: each row finished exactly once, and read back in row order."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError
from leadq.storage.jobs import JobLedger
from leadq.storage.models import Job, Qualification
from leadq.storage.store import Store

RULES = RulesBackend(Settings())


def _lead(i: int) -> LeadInput:
    return LeadInput.parse(
        {"lead_id": f"J-{i}", "lead_name": f"Ann {i}", "company_name": "Acme", "industry": "SaaS"}
    )


def _stored(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Qualification)) or 0


def test_only_rows_still_pending_are_finished(store: Store, tmp_path: Path) -> None:
    ledger = JobLedger(store)
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", 4)
    leads = {i: _lead(i) for i in range(1, 5)}
    assert ledger.finish_rows(job.id, [(i, leads[i], RULES.qualify_now(leads[i])) for i in (1, 2)])
    # Rows 1 and 2 are done: finishing them again (a second runner, a resume) stores nothing.
    again = [(i, leads[i], RULES.qualify_now(leads[i])) for i in (1, 2, 3)]
    assert ledger.finish_rows(job.id, again) == 1
    assert _stored(store) == 3
    assert ledger.pending(job.id) == [4]


def test_outcomes_in_row_order_with_stored_ids(store: Store, tmp_path: Path) -> None:
    ledger = JobLedger(store)
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", 3)
    lead = _lead(1)
    result = RULES.qualify_now(lead)
    error = LeadError(error="invalid_input", message="bad", retryable=False, field="row")
    ledger.finish_rows(job.id, [(3, None, error), (1, lead, result)])
    rows = list(ledger.outcomes(job.id))
    assert [(row, status) for row, status, _ in rows] == [(1, "done"), (2, "pending"), (3, "error")]
    done = rows[0][2]
    assert done is not None
    assert done["qualification_id"] is not None
    assert done["lead_ref"] is not None
    without_ids = {k: v for k, v in done.items() if k not in ("qualification_id", "lead_ref")}
    assert without_ids == result.model_dump(mode="json", exclude={"qualification_id", "lead_ref"})
    assert rows[1][2] is None
    assert rows[2][2] == error.model_dump(mode="json")


def test_reopen_failed_takes_back_only_retryable_errors(store: Store, tmp_path: Path) -> None:
    ledger = JobLedger(store)
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", 3)
    outage = LeadError(error="provider_unavailable", message="503", retryable=True)
    invalid = LeadError(error="invalid_input", message="bad", retryable=False, field="company")
    lead = _lead(3)
    ledger.finish_rows(
        job.id, [(1, _lead(1), outage), (2, None, invalid), (3, lead, RULES.qualify_now(lead))]
    )
    ledger.close_job(job.id)
    assert ledger.reopen_failed(job.id) == 1
    assert ledger.pending(job.id) == [1]
    assert [status for _, status, _ in ledger.outcomes(job.id)] == ["pending", "error", "done"]
    with store.session() as s:
        row = s.get(Job, job.id)
        assert row is not None
        assert row.finished_at is None  # unfinished until closed again
    assert ledger.reopen_failed(job.id) == 0
