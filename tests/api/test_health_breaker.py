"""Health shows the breakers, the fallbacks and what the limiter learned; an open breaker
makes the service "degraded" while fallbacks still answer."""

from __future__ import annotations

from tests.api.test_leads_llm import LEAD
from tests.support.openai_server import Reply


def test_open_breaker_shows_in_health_and_fallback_answers(llm_app, openai_server) -> None:
    openai_server.handler = lambda body: Reply(status=503)
    app = llm_app(fallbacks="rules", breaker_threshold=2, breaker_cooldown=60)
    with app.client() as api:
        before = api.get("/api/leads/health").json()
        served = [api.post("/api/leads/qualify", json=LEAD).json()["data"] for _ in range(3)]
        after = api.get("/api/leads/health").json()
    assert before["status"] == "healthy"
    assert before["backend"]["breakers"]["cerebras:gpt-oss-120b"]["state"] == "closed"
    assert before["backend"]["fallbacks"] == ["rules:rules-v1"]
    assert [r["provider"] for r in served] == ["rules"] * 3
    assert all("fallback_used" in r["flags"] for r in served)
    assert len(openai_server.requests) == 2  # the third lead did not try the open provider
    assert after["status"] == "degraded"
    assert after["backend"]["breakers"]["cerebras:gpt-oss-120b"]["state"] == "open"
    assert after["backend"]["rate_limit"]["learned"]["requests/60s"] == 10_000_000
    assert "base_url" not in after["backend"]
    assert "csk-test" not in str(after)
