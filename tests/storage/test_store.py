"""Storage behaviour, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, inspect, select

from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.core.identity import input_hash, lead_key
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError
from leadq.storage.models import JobItem, Lead, ProviderCall, Qualification
from leadq.storage.store import Store

RULES = RulesBackend(Settings())


def lead(**kw) -> LeadInput:
    base = {
        "lead_name": "Ann Lee",
        "company_name": "Acme",
        "industry": "SaaS",
        "job_title": "VP Sales",
        "company_size": "200",
    }
    return LeadInput.parse({**base, **kw})


def qualify(item: LeadInput):
    return RULES.qualify_now(item)


def saved_ids(ids: list[tuple[int | None, int | None]]) -> list[tuple[int, int]]:
    """What `Store.save` returns for results, which are always stored: `(lead_ref,
    qualification_id)` each, neither None (None is for errors, which store no result)."""
    pairs = [(ref, qid) for ref, qid in ids if ref is not None and qid is not None]
    assert len(pairs) == len(ids), ids
    return pairs


def test_identity_prefers_caller_id_then_email_then_name() -> None:
    assert lead_key(lead(lead_id="L-1", email="a@b.co")) == "id:L-1"
    assert lead_key(lead(email="Ann@B.co")) == "email:ann@b.co"
    assert lead_key(lead(lead_name="  ANN   lee ", company_name="ACME")) == "name:ann lee|acme"
    assert input_hash(lead()) == input_hash(lead(lead_id="other"))
    assert input_hash(lead()) != input_hash(lead(job_title="CTO"))


def test_input_hash_is_the_sha256_of_the_sorted_compact_json() -> None:
    # Stored hashes are looked up by later runs (the result cache): the text hashed must not
    # change, whatever makes it.
    item = lead(industry='Fintech "B2B"', job_title="Directeur Général", email="a@b.co")
    text = json.dumps(item.present(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert input_hash(item) == hashlib.sha256(text.encode()).hexdigest()
    assert '"job_title":"Directeur Général"' in text


def test_migrations_create_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "leads",
        "qualifications",
        "provider_calls",
        "jobs",
        "job_items",
        "alembic_version",
    } <= tables


def test_qualifying_again_adds_history_and_overwrites_nothing(store: Store) -> None:
    first, second = lead(), lead(engagement_history="Requested a demo this quarter")
    ((ref1, q1),) = saved_ids(store.save([(first, qualify(first))]))
    ((ref2, q2),) = saved_ids(store.save([(second, qualify(second))]))
    assert ref1 == ref2
    assert q1 != q2
    stored = store.get_lead(ref1)
    assert stored is not None
    assert stored["qualification_count"] == 2
    assert [h["qualification_id"] for h in stored["history"]] == [q1, q2]
    assert stored["latest_qualification_id"] == q2
    assert stored["latest_score"] == stored["history"][-1]["overall_score"]
    assert stored["history"][0]["overall_score"] < stored["history"][1]["overall_score"]
    one = store.get_qualification(q1)
    assert one is not None
    assert one["input"]["lead_name"] == "Ann Lee"
    assert one["input_hash"] == input_hash(first)
    assert one["provider"] == "rules"


def test_every_result_field_is_stored(store: Store) -> None:
    item = lead(lead_id="L-9")
    result = qualify(item)
    ((_, qid),) = saved_ids(store.save([(item, result)]))
    stored = store.get_qualification(qid)
    assert stored is not None
    for field, value in result.model_dump(
        mode="json", exclude={"qualification_id", "lead_ref"}
    ).items():
        assert stored[field] == value, field


def test_errors_and_invalid_rows_store_no_qualification(store: Store) -> None:
    err = LeadError(error="provider_timeout", message="slow", retryable=True)
    out = store.save([(lead(lead_id="x"), err), (None, err)])
    assert out == [(None, None), (None, None)]
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Qualification)) == 0


def test_call_attempts_are_logged_per_lead(store: Store) -> None:
    item = lead(lead_id="L-7")
    calls = [
        CallAttempt(
            item,
            "cerebras",
            "gpt-oss-120b",
            "rate_limited",
            12.0,
            429,
            error_class="RateLimitError",
        ),
        CallAttempt(item, "cerebras", "gpt-oss-120b", "ok", 480.0, 200, 800, 300, 0.0005),
    ]
    ((ref, _),) = store.save([(item, qualify(item))], calls)
    with store.session() as s:
        rows = s.scalars(select(ProviderCall).order_by(ProviderCall.id)).all()
    assert [(r.lead_ref, r.status, r.http_status) for r in rows] == [
        (ref, "rate_limited", 429),
        (ref, "ok", 200),
    ]
    assert rows[1].input_tokens == 800
    assert rows[1].cost_usd == 0.0005


def test_list_filter_sort_search_paginate(store: Store) -> None:
    items = [
        lead(lead_id=f"L-{i}", lead_name=name, job_title=title)
        for i, (name, title) in enumerate(
            [("Ann", "CEO"), ("Bo", "Intern"), ("Cy", "VP Sales"), ("Di", "Manager")]
        )
    ]
    store.save([(i, qualify(i)) for i in items])
    total, page = store.list_leads(sort="-score", limit=2)
    assert total == 4
    assert [p["lead_name"] for p in page] == ["Ann", "Cy"]
    total, page = store.list_leads(sort="-score", limit=2, offset=2)
    assert [p["lead_name"] for p in page] == ["Di", "Bo"]
    top = page[0]["latest_score"]
    total, page = store.list_leads(min_score=top, sort="score")
    assert all(p["latest_score"] >= top for p in page)
    assert total == 3
    action = page[0]["latest_action"]
    assert all(p["latest_action"] == action for p in store.list_leads(action=action)[1])
    assert [p["lead_name"] for p in store.list_leads(search="cy")[1]] == ["Cy"]
    assert [p["lead_name"] for p in store.list_leads(sort="name")[1]] == ["Ann", "Bo", "Cy", "Di"]


def test_find_lead_by_id_caller_id_email_or_name(store: Store) -> None:
    item = lead(lead_id="CRM-42", email="ann@acme.example")
    ((ref, _),) = store.save([(item, qualify(item))])
    for needle in (str(ref), "CRM-42", "ANN@acme.example", "ann lee"):
        assert store.find_lead(needle) == ref, needle
    assert store.find_lead("nobody") is None


def test_erasure_leaves_nothing_behind(store: Store) -> None:
    keep, gone = lead(lead_id="keep"), lead(lead_id="gone", email="gone@x.example")
    calls = [CallAttempt(gone, "openai", "m", "ok", 1.0)]
    (keep_ref, _), (gone_ref, gone_q) = saved_ids(
        store.save([(keep, qualify(keep)), (gone, qualify(gone))], calls)
    )
    store.save([(gone, qualify(gone))])
    with store.session.begin() as s:
        s.add(JobItem(job_id=_job(s), row=1, status="done", qualification_id=gone_q))
    assert store.erase_lead(gone_ref) is True
    assert store.erase_lead(gone_ref) is False
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 1
        assert s.scalars(select(Qualification.lead_ref)).all() == [keep_ref]
        assert s.scalar(select(func.count()).select_from(ProviderCall)) == 0
        item = s.scalars(select(JobItem)).one()
        assert (item.status, item.qualification_id) == ("erased", None)
        text_dump = repr([r.__dict__ for r in s.scalars(select(Qualification)).all()])
    assert "gone@x.example" not in text_dump
    assert store.get_lead(gone_ref) is None


def _job(s) -> str:
    from datetime import UTC, datetime

    from leadq.storage.models import Job

    s.add(Job(id="job-1", source="x.csv", source_hash="h", created_at=datetime.now(UTC), total=1))
    s.flush()
    return "job-1"


def test_bulk_save_of_many_leads(store: Store) -> None:
    items = [lead(lead_id=f"B-{i}") for i in range(1200)]
    out = store.save([(i, qualify(i)) for i in items])
    assert len({q for _, q in out}) == 1200
    assert all(q for _, q in out)
    assert store.list_leads(limit=1)[0] == 1200
    exported = list(store.latest_with_outcomes())  # 1,200: more than one page
    assert len(exported) == 1200
    assert exported[0]["lead_id"] == "B-0"


def test_migrations_match_the_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from leadq.storage.models import Base

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_export_reads_every_lead_a_page_at_a_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 2 over 5 leads: every lead once, in order (a download never holds a
    connection for its whole length)."""
    import leadq.storage.store as module

    monkeypatch.setattr(module, "EXPORT_PAGE", 2)
    for n in range(5):
        item = lead(lead_id=f"P-{n}")
        store.save([(item, qualify(item))])
    assert [r["lead_id"] for r in store.latest_with_outcomes()] == [f"P-{n}" for n in range(5)]
