"""Rate limits as a trial user meets them, over real HTTP against the scripted provider with
a sliding-window or token-bucket limit (windows of a second, so the suite stays fast): the
provider's burst is spent, leadq's own queue is never reported as the provider's timeout,
and it never opens the breaker."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from leadq.storage.models import ProviderCall
from tests.api.test_leads_llm import LEAD
from tests.support.openai_server import RateLimit, ScriptedServer


def _leads(n: int) -> list[dict[str, Any]]:
    return [{**LEAD, "lead_id": f"R-{i}", "lead_name": f"Rate Lead {i}"} for i in range(n)]


@pytest.mark.parametrize("mode", ["sliding", "bucket", "fixed"])
def test_a_batch_over_the_limit_all_succeeds_and_the_breaker_stays_closed(
    llm_app: Any, openai_server: ScriptedServer, mode: str
) -> None:
    # 5 requests a second, 15 leads, 32 in flight allowed, and a lead deadline (0.5 s) far
    # shorter than the wait for the last slots: only our own queue makes those leads wait.
    openai_server.rate_limit = RateLimit(requests=5, window=1.0, unit="second", mode=mode)
    app = llm_app(max_concurrency=32, lead_deadline=0.5, breaker_threshold=2, max_retries=2)
    with app.client() as api:
        body = api.post("/api/leads/qualify-batch", json=_leads(15)).json()
        health = api.get("/api/leads/health").json()
        single = api.post("/api/leads/qualify", json={**LEAD, "lead_id": "R-after"})
    assert (body["succeeded"], body["failed"]) == (15, 0)
    assert openai_server.rejected <= 2  # the limit is learned from the first answers
    queued = [r["queue_ms"] for r in body["data"]]
    assert max(queued) > 0  # some leads waited for a slot...
    assert all(r["latency_ms"] >= r["queue_ms"] for r in body["data"])
    assert health["status"] == "healthy"  # ...and that is not the provider failing
    assert health["backend"]["breakers"]["cerebras:gpt-oss-120b"]["state"] == "closed"
    assert single.status_code == 200
    with app.app.state.store.session() as s:
        calls = list(s.scalars(select(ProviderCall)))
    assert {c.status for c in calls} <= {"ok", "rate_limited"}
    assert any(c.queue_ms > 0 for c in calls)  # the wait is logged apart from the call


def test_a_lead_that_only_waited_past_the_queue_bound_is_rate_limited_not_a_timeout(
    llm_app: Any, openai_server: ScriptedServer
) -> None:
    # 4 a minute: the first answers say so, and the other two leads would wait a minute.
    openai_server.rate_limit = RateLimit(requests=4, window=60.0, unit="minute", mode="sliding")
    app = llm_app(max_concurrency=8, queue_timeout=0.3, breaker_threshold=1)
    with app.client() as api:
        body = api.post("/api/leads/qualify-batch", json=_leads(6)).json()
        health = api.get("/api/leads/health").json()
    errors = [r["error"] for r in body["data"] if "error" in r]
    assert body["succeeded"] == 4
    assert [e["error"] for e in errors] == ["rate_limited", "rate_limited"]
    assert all("LEADQ_QUEUE_TIMEOUT" in e["message"] for e in errors)
    assert all(e["retryable"] for e in errors)
    assert health["backend"]["breakers"]["cerebras:gpt-oss-120b"]["state"] == "closed"
    assert openai_server.rejected == 0  # the provider was never asked beyond its limit
