"""Outcomes, spend and the period and experiment aggregates, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from leadq.core.calls import CallAttempt
from leadq.core.result import QualificationResult, Usage
from leadq.storage.models import LeadOutcome
from leadq.storage.outcomes import find_lead_ref, record_outcomes
from leadq.storage.stats import outcome_rows, period_stats, variant_stats
from leadq.storage.store import Store
from tests.storage.test_store import lead, qualify, saved_ids

DAY = timedelta(days=1)


def result_as(item, **changes) -> QualificationResult:
    return qualify(item).model_copy(update=changes)


def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - DAY, now + timedelta(minutes=1)


def test_outcome_is_linked_to_the_latest_qualification(store: Store) -> None:
    item = lead(lead_id="O-1")
    store.save([(item, result_as(item, prompt_version="v1"))])
    ((ref, qid),) = saved_ids(store.save([(item, result_as(item, prompt_version="v2"))]))
    (saved, missing) = record_outcomes(
        store, [(ref, "won", date(2026, 11, 20)), (999, "won", date(2026, 11, 20))]
    )
    assert missing is None
    assert saved is not None
    assert (saved["qualification_id"], saved["prompt_version"]) == (qid, "v2")
    assert (saved["outcome"], saved["date"], saved["lead_ref"]) == ("won", "2026-11-20", ref)
    with pytest.raises(ValueError, match="won, lost, no_response, disqualified"):
        record_outcomes(store, [(ref, "maybe", date(2026, 11, 20))])


def test_find_lead_ref_by_stored_id_caller_id_or_email(store: Store) -> None:
    item = lead(lead_id="CRM-9", email="ann@acme.example")
    ((ref, _),) = store.save([(item, qualify(item))])
    assert find_lead_ref(store, lead_ref=str(ref)) == ref
    assert find_lead_ref(store, lead_id="CRM-9") == ref
    assert find_lead_ref(store, email="ANN@acme.example") == ref
    assert find_lead_ref(store, lead_ref="424242") is None
    assert find_lead_ref(store, lead_ref="x") is None
    assert find_lead_ref(store, email="nobody@x.example") is None
    assert find_lead_ref(store) is None


def test_erasure_deletes_outcomes(store: Store) -> None:
    keep, gone = lead(lead_id="keep"), lead(lead_id="gone")
    (keep_ref, _), (gone_ref, _) = saved_ids(
        store.save([(keep, qualify(keep)), (gone, qualify(gone))])
    )
    record_outcomes(store, [(keep_ref, "lost", date.today()), (gone_ref, "won", date.today())])
    assert store.erase_lead(gone_ref)
    with store.session() as s:
        assert s.scalars(select(LeadOutcome.lead_ref)).all() == [keep_ref]


def test_spend_since_sums_call_costs_in_utc(store: Store) -> None:
    item = lead(lead_id="S-1")
    now = datetime.now(UTC)
    calls = [
        CallAttempt(item, "openai", "m", "ok", 5.0, 200, 10, 5, 0.25, at=now - 2 * DAY),
        CallAttempt(item, "openai", "m", "ok", 5.0, 200, 10, 5, 0.5, at=now - timedelta(hours=1)),
        CallAttempt(item, "openai", "m", "rate_limited", 1.0, 429, at=now),
        CallAttempt(item, "openai", "m", "ok", 5.0, 200, 10, 5, 0.125, at=now),
    ]
    store.save([], calls)
    assert store.spend_since(now - DAY) == pytest.approx(0.625)
    assert store.spend_since(now - 3 * DAY) == pytest.approx(0.875)
    # The same instant in another zone is the same reading.
    plus2 = (now - DAY).astimezone(timezone(timedelta(hours=2)))
    assert store.spend_since(plus2) == pytest.approx(0.625)
    assert store.spend_since(now + DAY) == 0.0


def test_period_stats_counts_percentiles_and_error_rate(store: Store) -> None:
    pairs = []
    for i in range(1, 101):
        item = lead(lead_id=f"P-{i}")
        pairs.append((item, result_as(item, provider="openai", model="m", latency_ms=float(i))))
    for i in range(1, 5):
        item = lead(lead_id=f"R-{i}")
        pairs.append((item, result_as(item, latency_ms=1000.0 + i)))  # the rules engine
    item = pairs[0][0]
    calls = [CallAttempt(item, "openai", "m", "ok", 100.0, 200, 1000, 200, 0.01)] * 3 + [
        CallAttempt(item, "openai", "m", "provider_unavailable", 50.0, 503, error_class="E")
    ]
    store.save(pairs, calls)
    since, until = window()
    data = period_stats(store, since, until)
    total = data["totals"]
    assert total["leads"] == 104
    assert sum(total["actions"].values()) == 104
    assert (total["calls"], total["failed_calls"], total["error_rate"]) == (4, 1, 0.25)
    assert total["input_tokens"] == 3000
    assert total["cost_usd"] == pytest.approx(0.03)
    by = {(g["provider"], g["model"]): g for g in data["by_provider"]}
    llm = by[("openai", "m")]
    # Nearest rank over 1..100 ms: the 50th and the 95th value.
    assert llm["latency_ms"] == {"p50": 50.0, "p95": 95.0}
    assert llm["call_latency_ms"] == {"p50": 100.0, "p95": 100.0}
    assert llm["leads"] == 100
    assert llm["error_rate"] == 0.25
    rules = next(g for g in data["by_provider"] if g["provider"] == "rules")
    assert rules["leads"] == 4
    assert rules["calls"] == 0
    assert rules["error_rate"] is None
    assert rules["latency_ms"] == {"p50": 1002.0, "p95": 1004.0}
    # Over all 104 (1..100 and 1001..1004): ranks ceil(52) and ceil(98.8) = 99.
    assert total["latency_ms"] == {"p50": 52.0, "p95": 99.0}
    empty = period_stats(store, until, until + DAY)["totals"]
    assert empty["leads"] == 0
    assert empty["latency_ms"] == {"p50": None, "p95": None}


def test_variant_stats_and_latest_outcome_per_lead(store: Store) -> None:
    refs = {}
    for i, version in enumerate(["v1", "v1", "v2"]):
        item = lead(lead_id=f"V-{i}")
        res = result_as(
            item,
            prompt_version=version,
            usage=Usage(input_tokens=100, output_tokens=50),
            cost_usd=0.001 * (i + 1),
        )
        ((refs[i], _),) = saved_ids(store.save([(item, res)]))
    record_outcomes(store, [(refs[0], "no_response", date.today())])
    record_outcomes(store, [(refs[0], "won", date.today()), (refs[2], "lost", date.today())])
    since, until = window()
    stats = {v["variant"]: v for v in variant_stats(store, since, until)}
    assert stats["v1"]["qualifications"] == 2
    assert stats["v1"]["leads"] == 2
    assert stats["v1"]["tokens_per_lead"] == 150.0
    assert stats["v1"]["cost_per_lead_usd"] == pytest.approx(0.0015)
    assert stats["v2"]["cost_per_lead_usd"] == pytest.approx(0.003)
    assert sum(stats["v1"]["actions"].values()) == 2
    assert 0 <= stats["v1"]["mean_scores"]["overall_score"] <= 1
    rows = sorted(outcome_rows(store, since, until))
    assert [(v, o) for v, _, o in rows] == [("v1", "won"), ("v2", "lost")]  # latest per lead
    assert outcome_rows(store, until, until + DAY) == []
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(LeadOutcome)) == 3
