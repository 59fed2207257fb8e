"""The result cache over the HTTP API: an identical lead within the TTL is answered from the
store (and from Redis across instances) with `cached: true` and no provider call."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.api.conftest import sse_events
from tests.api.test_leads_llm import LEAD
from tests.support.llm import GOOD, answer

REDIS_TEST_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def app(llm_app):
    return llm_app()


def qualify(app, lead=LEAD, **params):
    with app.client() as api:
        r = api.post("/api/leads/qualify", json=lead, **params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_identical_lead_is_served_from_the_cache(app, openai_server) -> None:
    first = qualify(app)
    again = qualify(app, {**LEAD, "lead_name": "  John Doe "})  # same once normalised
    assert first["cached"] is False
    assert again["cached"] is True
    assert len(openai_server.requests) == 1
    assert again["qualification_id"] == first["qualification_id"]
    assert again["overall_score"] == first["overall_score"]
    assert again["cost_usd"] == 0
    assert again["usage"]["input_tokens"] == 0


def test_a_changed_field_is_a_miss(app, openai_server) -> None:
    qualify(app)
    other = qualify(app, {**LEAD, "job_title": "CFO"})
    assert other["cached"] is False
    assert len(openai_server.requests) == 2


def test_two_crm_records_with_the_same_fields_never_share_a_result(app, openai_server) -> None:
    """The cache keys on the caller's lead_id: CRM-B is qualified and stored as CRM-B."""
    a = qualify(app, {**LEAD, "lead_id": "CRM-A"})
    b = qualify(app, {**LEAD, "lead_id": "CRM-B"})
    assert (b["lead_id"], b["cached"]) == ("CRM-B", False)
    assert b["lead_ref"] != a["lead_ref"]
    again = qualify(app, {**LEAD, "lead_id": "CRM-A"})
    assert (again["lead_id"], again["cached"]) == ("CRM-A", True)
    assert again["qualification_id"] == a["qualification_id"]
    assert len(openai_server.requests) == 2
    with app.client() as api:
        assert sorted(x["lead_id"] for x in api.get("/api/leads").json()["data"]) == [
            "CRM-A",
            "CRM-B",
        ]


@pytest.mark.parametrize(
    "bypass", [{"params": {"cache": "false"}}, {"headers": {"Cache-Control": "no-cache"}}]
)
def test_bypass_by_query_or_header(app, openai_server, bypass) -> None:
    first = qualify(app)
    fresh = qualify(app, **bypass)
    assert fresh["cached"] is False
    assert len(openai_server.requests) == 2
    assert fresh["qualification_id"] != first["qualification_id"]
    assert qualify(app)["qualification_id"] == fresh["qualification_id"]  # the newest one


def test_ttl_zero_disables_the_cache(llm_app, openai_server) -> None:
    app = llm_app(cache_ttl=0)
    qualify(app)
    assert qualify(app)["cached"] is False
    assert len(openai_server.requests) == 2


def test_batch_and_stream_use_the_cache(app, openai_server) -> None:
    qualify(app)
    leads = [LEAD, {**LEAD, "lead_name": "Jane Roe"}, {"lead_name": "No Company"}]
    with app.client() as api:
        batch = api.post("/api/leads/qualify-batch", json=leads).json()
        with api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r:
            events = list(sse_events(r))
    assert [d.get("cached") for d in batch["data"][:2]] == [True, False]
    assert batch["failed"] == 1
    assert len(openai_server.requests) == 2  # only Jane Roe was new
    assert [e.name for e in events] == ["result"]
    assert events[0].data["cached"] is True
    assert len(openai_server.requests) == 2


def test_redis_shares_hits_between_instances_and_erasure_clears_them(
    llm_app, openai_server, tmp_path: Path
) -> None:
    r = redis.Redis.from_url(REDIS_TEST_URL)
    r.flushdb()
    one = llm_app(redis_url=REDIS_TEST_URL, data_dir=tmp_path / "one")
    two = llm_app(redis_url=REDIS_TEST_URL, data_dir=tmp_path / "two")  # its own database
    first = qualify(one)
    shared = qualify(two)
    assert shared["cached"] is True
    assert len(openai_server.requests) == 1
    assert shared["qualification_id"] == first["qualification_id"]
    assert len(r.keys("leadq:cache:*")) == 2  # the entry and the lead's index of entries

    with one.client() as api:
        assert api.delete(f"/api/leads/{first['lead_ref']}").status_code == 200
    assert r.keys("leadq:cache:*") == []
    assert qualify(two)["cached"] is False
    assert len(openai_server.requests) == 2
    r.flushdb()


def test_an_escalated_result_is_a_hit_for_the_first_model(llm_app, openai_server) -> None:
    def handler(body):
        strong = body["model"] == "strong-model"
        return answer(body, {**GOOD, "confidence": 0.9 if strong else 0.3})

    app = llm_app(escalate_below=0.6, escalate_to="cerebras:strong-model")
    openai_server.handler = handler
    first = qualify(app)
    assert first["model"] == "strong-model"
    assert first["escalated_from"]["model"] == "gpt-oss-120b"
    assert len(openai_server.requests) == 2
    again = qualify(app)
    assert again["cached"] is True
    assert again["qualification_id"] == first["qualification_id"]
    assert len(openai_server.requests) == 2  # neither model was asked again
