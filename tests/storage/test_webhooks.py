"""The webhook outbox, on SQLite and PostgreSQL: an event per stored qualification in the same
transaction (and none without webhooks), claims that two deliverers never share, and
erasure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadq.config import Settings
from leadq.core.result import LeadError
from leadq.storage.db import make_engine
from leadq.storage.jobs import JobLedger
from leadq.storage.models import OutboxMessage, Qualification
from leadq.storage.store import Store
from leadq.storage.webhooks import claim, deliveries, record_delivered, record_failure
from leadq.storage.writer import JobWriter
from tests.storage.test_jobs import _lead
from tests.storage.test_store import lead, qualify, saved_ids

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def events(store: Store, db_url: str) -> Iterator[Store]:
    """The test's database (migrated by `store`), through a store that writes events."""
    s = Store(make_engine(db_url), events=True)
    yield s
    s.close()


def _messages(store: Store) -> list[OutboxMessage]:
    with store.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


def _count(store: Store, model: type) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_each_stored_result_gets_one_event_with_the_crm_id_and_scores(events: Store) -> None:
    item = lead(lead_id="CRM-77", email="ann@acme.example", attributes={"Lead Source": "Webinar"})
    result = qualify(item)
    failed = LeadError(error="provider_timeout", message="slow", retryable=True)
    ids = events.save([(item, result), (lead(lead_id="CRM-78"), failed)])
    ((ref, qid),) = saved_ids(ids[:1])
    assert ids[1][1] is None  # the error: nothing stored, nothing to send
    (msg,) = _messages(events)
    assert msg.id.startswith("msg_")
    assert (msg.event_type, msg.status, msg.attempts, msg.lead_ref) == (
        "lead.qualified",
        "pending",
        0,
        ref,
    )
    assert msg.payload["type"] == "lead.qualified"
    assert msg.payload["timestamp"].endswith("Z")
    data = msg.payload["data"]
    assert data["lead_id"] == "CRM-77"
    assert (data["lead_ref"], data["qualification_id"]) == (ref, qid)
    assert (data["lead_name"], data["company_name"], data["email"]) == (
        "Ann Lee",
        "Acme",
        "ann@acme.example",
    )
    assert data["attributes"] == {"Lead Source": "Webinar"}  # the CRM's own columns
    assert data["overall_score"] == result.overall_score
    assert data["fit_score"] == result.fit_score
    assert data["recommended_action"] == result.recommended_action.value
    assert data["reasoning"] == result.reasoning
    assert data["provider"] == "rules"
    assert data["prompt_version"] == result.prompt_version
    assert data["flags"] == [f.value for f in result.flags]


def test_an_event_is_written_only_with_its_result(events: Store) -> None:
    item = lead(lead_id="rolled-back")

    def fail_after_saving() -> None:
        with events.session.begin() as s:
            events.save_in(s, [(item, qualify(item))], [])
            raise RuntimeError("the transaction fails after the save")

    with pytest.raises(RuntimeError, match="after the save"):
        fail_after_saving()
    assert _count(events, Qualification) == 0
    assert _count(events, OutboxMessage) == 0


def test_no_events_without_webhooks(store: Store, db_url: str) -> None:
    opened = Store.open(Settings(database_url=db_url))
    try:
        assert not opened.events
        item = lead()
        opened.save([(item, qualify(item))])
        store.save([(item, qualify(item))])
    finally:
        opened.close()
    assert _count(store, Qualification) == 2
    assert _count(store, OutboxMessage) == 0
    configured = Settings(
        database_url=db_url, webhook_url="http://crm.example/hook", webhook_secret=SECRET
    )
    opened = Store.open(configured)
    assert opened.events
    opened.close()


def test_two_deliverers_never_claim_one_message_twice(events: Store, db_url: str) -> None:
    items = [lead(lead_id=f"C-{i}") for i in range(120)]
    events.save([(item, qualify(item)) for item in items])
    other = Store(make_engine(db_url))  # another process's, as far as the database knows
    start = threading.Barrier(2)
    claimed: dict[str, list[str]] = {"a": [], "b": []}

    def deliverer(name: str, store: Store) -> None:
        start.wait()
        while batch := claim(store, 7):
            claimed[name].extend(msg.id for msg in batch)

    threads = [
        threading.Thread(target=deliverer, args=("a", events)),
        threading.Thread(target=deliverer, args=("b", other)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.close()
    every = claimed["a"] + claimed["b"]
    assert len(every) == len(set(every)) == 120
    assert claim(events, 7) == []  # claimed: not due again while the lease runs


def test_a_failed_attempt_waits_for_its_retry_and_the_log_shows_it(events: Store) -> None:
    item = lead()
    events.save([(item, qualify(item))])
    (msg,) = claim(events, 10)
    assert msg.attempts == 0
    assert '"type":"lead.qualified"' in msg.body
    retry_at = datetime.now(UTC) + timedelta(hours=1)
    record_failure(events, msg.id, "HTTP 500 Internal Server Error", retry_at)
    assert claim(events, 10) == []
    (pending,) = deliveries(events, "pending")
    assert (pending["attempts"], pending["last_error"]) == (1, "HTTP 500 Internal Server Error")
    with events.session.begin() as s:  # its retry time comes
        s.get_one(OutboxMessage, msg.id).next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    (again,) = claim(events, 10)
    assert (again.id, again.attempts) == (msg.id, 1)
    record_delivered(events, msg.id)
    (done,) = deliveries(events, "delivered")
    assert (done["id"], done["attempts"], done["next_attempt_at"]) == (msg.id, 2, None)
    assert done["delivered_at"].endswith("Z")
    assert deliveries(events, "pending") == []


def test_erasing_a_lead_removes_its_messages(events: Store) -> None:
    kept, erased = lead(lead_id="kept"), lead(lead_id="erased")
    ((ref, _), _) = saved_ids(events.save([(erased, qualify(erased)), (kept, qualify(kept))]))
    assert events.erase_lead(ref)
    assert [m.payload["data"]["lead_id"] for m in _messages(events)] == ["kept"]


def test_rows_stored_by_a_jobs_writer_process_get_events(
    events: Store, db_url: str, tmp_path: Path
) -> None:
    ledger = JobLedger(events)
    job, _ = ledger.open(tmp_path / "leads.csv", "hash", 3)
    leads = {i: _lead(i) for i in range(1, 4)}
    writer = JobWriter(db_url, job.id, events=True)
    writer.submit([(i, leads[i], qualify(leads[i])) for i in (1, 2)])
    writer.submit([(1, leads[1], qualify(leads[1]))])  # row 1 again: stored once, sent once
    writer.close()
    assert sorted(m.payload["data"]["lead_id"] for m in _messages(events)) == ["J-1", "J-2"]
    ledger.finish_rows(job.id, [(3, leads[3], qualify(leads[3]))])  # in this process too
    assert _count(events, OutboxMessage) == 3


def test_a_claim_takes_no_more_than_its_limit(events: Store) -> None:
    items = [lead(lead_id=f"L-{i}") for i in range(30)]
    events.save([(item, qualify(item)) for item in items])
    first, second = claim(events, 7), claim(events, 7)
    assert (len(first), len(second)) == (7, 7)
    assert not {m.id for m in first} & {m.id for m in second}
