"""Retention on SQLite and PostgreSQL: `purge` deletes qualifications and provider calls
older than the cutoff and what hangs on them, keeps everything newer, and leaves each lead's
latest score, action and count true to what is left; `leadq db purge` and the schedule in
`leadq serve` run it."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.storage.db import make_engine, upgrade
from leadq.storage.jobs import JobLedger
from leadq.storage.models import (
    Job,
    JobItem,
    Lead,
    LeadOutcome,
    OutboxMessage,
    ProviderCall,
    Qualification,
)
from leadq.storage.outcomes import record_outcomes
from leadq.storage.retention import Purged, cutoff_for, purge
from leadq.storage.store import Store
from tests.api.conftest import LiveApp
from tests.cli.test_app import leadq
from tests.storage.test_store import lead, qualify

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=40)
CUTOFF = NOW - timedelta(days=30)


def stored(store: Store, item, *, at: datetime, calls: int = 0) -> tuple[int, int]:
    """Save a rules result for `item` (and `calls` call rows), dated `at`."""
    attempts = [CallAttempt(item, "openai", "m", "ok", 5.0, at=at) for _ in range(calls)]
    ((ref, qid),) = store.save([(item, qualify(item))], attempts)
    assert ref is not None
    assert qid is not None
    with store.session.begin() as s:
        s.execute(update(Qualification).where(Qualification.id == qid).values(created_at=at))
        s.execute(update(Lead).where(Lead.id == ref).values(updated_at=at))
    return ref, qid


def count(store: Store, table) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_old_rows_go_new_rows_stay_and_latest_is_recomputed(store: Store) -> None:
    mixed = lead(lead_id="MIX")
    ref, old_qid = stored(store, mixed, at=OLD, calls=2)
    _, new_qid = stored(store, lead(lead_id="MIX", job_title="CEO"), at=NOW, calls=1)
    purged = purge(store, CUTOFF)
    assert (purged.qualifications, purged.provider_calls, purged.leads) == (1, 2, 0)
    found = store.get_lead(ref)
    assert found is not None
    assert [q["qualification_id"] for q in found["qualifications"]] == [new_qid]
    assert found["qualification_count"] == 1
    assert found["latest_qualification_id"] == new_qid
    assert store.get_qualification(old_qid) is None
    assert count(store, ProviderCall) == 1


def test_latest_falls_back_to_the_newest_kept_qualification(store: Store) -> None:
    """A lead whose newest row is purged (clock skew, a backfill) points at what is left."""
    ref, kept = stored(store, lead(lead_id="SKEW"), at=NOW - timedelta(days=1))
    _, newest = stored(store, lead(lead_id="SKEW", job_title="CEO"), at=NOW)
    with store.session.begin() as s:  # make the newest row the old one
        s.execute(update(Qualification).where(Qualification.id == newest).values(created_at=OLD))
    purge(store, CUTOFF)
    found = store.get_lead(ref)
    assert found is not None
    assert found["latest_qualification_id"] == kept
    kept_row = store.get_qualification(kept)
    assert kept_row is not None
    assert found["latest_score"] == kept_row["overall_score"]
    assert found["latest_action"] == kept_row["recommended_action"]


def test_a_lead_with_nothing_left_is_deleted(store: Store) -> None:
    gone, _ = stored(store, lead(lead_id="GONE", email="gone@x.example"), at=OLD, calls=1)
    kept, _ = stored(store, lead(lead_id="KEPT"), at=NOW)
    purged = purge(store, CUTOFF)
    assert purged.leads == 1
    assert store.get_lead(gone) is None
    assert store.get_lead(kept) is not None
    with store.session() as s:
        assert s.scalars(select(Lead.email)).all() == [None]  # the old email is gone too


def test_a_lead_with_a_recorded_outcome_stays_with_empty_latest(store: Store) -> None:
    ref, _ = stored(store, lead(lead_id="WON"), at=OLD)
    assert record_outcomes(store, [(ref, "won", date.today())])[0] is not None
    purge(store, CUTOFF)
    found = store.get_lead(ref)
    assert found is not None
    assert (found["qualification_count"], found["latest_qualification_id"]) == (0, None)
    assert (found["latest_score"], found["latest_action"]) == (None, None)
    with store.session() as s:
        outcome = s.scalars(select(LeadOutcome)).one()
    assert outcome.qualification_id is None


def test_a_lead_with_only_a_recent_call_left_stays(store: Store) -> None:
    item = lead(lead_id="CALLS")
    ref, _ = stored(store, item, at=OLD)
    store.save([], [CallAttempt(item, "openai", "m", "rate_limited", 3.0)])
    assert purge(store, CUTOFF).leads == 0
    found = store.get_lead(ref)
    assert found is not None
    assert found["qualification_count"] == 0


def test_job_rows_of_purged_results_are_marked_and_old_finished_jobs_go(store: Store) -> None:
    ledger = JobLedger(store)
    old_lead, new_lead = lead(lead_id="J-OLD"), lead(lead_id="J-NEW")
    job, _ = ledger.open(Path("a.csv"), "hash-a", 2)
    ledger.finish_rows(job.id, [(1, old_lead, qualify(old_lead)), (2, new_lead, qualify(new_lead))])
    ledger.close_job(job.id)
    finished, _ = ledger.open(Path("b.csv"), "hash-b", 1)
    ledger.finish_rows(finished.id, [(1, new_lead, qualify(new_lead))])
    ledger.close_job(finished.id)
    with store.session.begin() as s:
        old_qid = s.scalar(
            select(JobItem.qualification_id).where(JobItem.job_id == job.id, JobItem.row == 1)
        )
        s.execute(update(Qualification).where(Qualification.id == old_qid).values(created_at=OLD))
        s.execute(update(Job).where(Job.id == finished.id).values(finished_at=OLD))
    purged = purge(store, CUTOFF)
    assert (purged.job_rows_unlinked, purged.jobs) == (1, 1)
    statuses = [(row, status) for row, status, _ in ledger.outcomes(job.id)]
    assert statuses == [(1, "purged"), (2, "done")]
    with store.session() as s:
        assert s.get(Job, finished.id) is None
        assert s.scalars(select(JobItem.job_id).distinct()).all() == [job.id]


def test_purging_twice_removes_nothing_more(store: Store) -> None:
    stored(store, lead(lead_id="A"), at=OLD, calls=1)
    stored(store, lead(lead_id="B"), at=NOW, calls=1)
    first = purge(store, CUTOFF)
    again = purge(store, CUTOFF)
    assert first.qualifications == 1
    assert again == Purged(again.cutoff)  # all counts zero
    assert count(store, Qualification) == count(store, ProviderCall) == count(store, Lead) == 1


def test_cutoff_is_days_before_now() -> None:
    assert cutoff_for(30, NOW) == NOW - timedelta(days=30)
    assert cutoff_for(0.5, NOW) == NOW - timedelta(hours=12)


# ---- the CLI and the schedule in serve (SQLite) ------------------------------------------


def _old_database(tmp_path: Path) -> tuple[str, Store]:
    url = f"sqlite:///{tmp_path / 'retention.db'}"
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    stored(store, lead(lead_id="OLD"), at=OLD, calls=1)
    stored(store, lead(lead_id="NEW"), at=NOW)
    return url, store


def test_db_purge_reports_counts_and_needs_a_period(tmp_path: Path) -> None:
    url, store = _old_database(tmp_path)
    refused = leadq("db", "purge", env={"DATABASE_URL": url})
    assert refused.returncode == 2
    assert "LEADQ_RETENTION_DAYS" in refused.stderr
    assert count(store, Qualification) == 2
    done = leadq("db", "purge", env={"DATABASE_URL": url, "LEADQ_RETENTION_DAYS": "30"})
    assert done.returncode == 0, done.stderr
    assert "1 qualifications, 1 provider calls" in done.stderr
    assert "1 leads" in done.stderr
    assert count(store, Qualification) == 1
    nothing = leadq("db", "purge", "--days", "365", env={"DATABASE_URL": url})
    assert nothing.returncode == 0
    assert "0 qualifications" in nothing.stderr
    store.close()


def test_serve_purges_at_start(tmp_path: Path) -> None:
    url, store = _old_database(tmp_path)
    app = LiveApp(Settings(provider="rules", database_url=url, retention_days=30)).start()
    try:
        deadline = time.monotonic() + 30
        while count(store, Qualification) != 1:  # the first purge runs in the background
            assert time.monotonic() < deadline, "serve did not purge"
            time.sleep(0.05)
        listed = httpx.get(f"{app.url}/api/leads", timeout=10).json()
        assert [row["lead_id"] for row in listed["data"]] == ["NEW"]
    finally:
        app.stop()
        store.close()


def test_serve_without_retention_keeps_everything(tmp_path: Path) -> None:
    url, store = _old_database(tmp_path)
    app = LiveApp(Settings(provider="rules", database_url=url)).start()
    try:
        assert httpx.get(f"{app.url}/api/leads", timeout=10).json()["total"] == 2
        assert count(store, Qualification) == 2
    finally:
        app.stop()
        store.close()


def test_old_webhook_messages_go_new_ones_stay(store: Store) -> None:
    """Webhook messages carry the lead's name and email: none outlives the cutoff, whether
    its lead goes (A: nothing left) or stays (B: a newer result)."""
    store.events = True  # as with LEADQ_WEBHOOK_URL set
    stored(store, lead(lead_id="A"), at=OLD)
    stored(store, lead(lead_id="B"), at=OLD)
    with store.session.begin() as s:
        s.execute(update(OutboxMessage).values(created_at=OLD, status="delivered"))
    stored(store, lead(lead_id="B"), at=NOW)
    purged = purge(store, CUTOFF)
    assert purged.webhook_messages == 1  # B's old one; A's went with A
    with store.session() as s:
        left = s.scalars(select(OutboxMessage.payload)).all()
    assert [m["data"]["lead_id"] for m in left] == ["B"]
    assert purged.leads == 1
