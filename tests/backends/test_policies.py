"""Resilience over real HTTP against the scripted server: a provider-side rate limit, the
circuit breaker and fallback routing, escalation, and the daily budget guard."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from leadq.core.errors import ProviderUnavailable
from leadq.core.result import Flag, LeadError, QualificationResult
from tests.support.llm import GOOD, answer, lead_in
from tests.support.openai_server import RateLimit, Reply


def leads(strong_lead: dict[str, str], n: int) -> list[dict[str, str]]:
    return [{**strong_lead, "lead_id": f"L-{i}", "lead_name": f"Lead {i}"} for i in range(n)]


def test_300_leads_against_a_600_per_minute_limit_all_succeed(
    llm, openai_server, strong_lead
) -> None:
    # 10 requests per 1-second window = 600/min. Nothing configured: the limiter learns the
    # limit from the headers and paces; only the opening burst (before anything is known)
    # can run into the limit.
    openai_server.rate_limit = RateLimit(requests=10, window=1.0, unit="second")
    qualifier = llm(max_retries=2, max_concurrency=16)
    outcomes = qualifier.qualify_leads_batch(leads(strong_lead, 300))
    failed = [o for o in outcomes if isinstance(o, LeadError)]
    assert failed == []
    assert len(outcomes) == 300
    assert openai_server.completed - openai_server.rejected == 300  # one answer a lead
    assert openai_server.rejected <= 16  # a few, at the start; not a storm of retries
    limiter = qualifier.backend.unwrap().limiter
    assert limiter.learned == {"requests/1s": 10}


def test_configured_rpm_keeps_every_request_inside_the_limit(
    llm, openai_server, strong_lead
) -> None:
    openai_server.rate_limit = RateLimit(requests=5, window=1.0, unit="second")
    outcomes = llm(rpm=240, max_concurrency=8).qualify_leads_batch(leads(strong_lead, 12))
    assert all(isinstance(o, QualificationResult) for o in outcomes)
    assert openai_server.rejected == 0  # 4/s against 5/s: never over


def test_a_429_storm_is_waited_out_not_multiplied(llm, openai_server, strong_lead) -> None:
    # Two requests a second and 8 leads at once: 6 are refused, and their 429s say the
    # window is used up, so they wait for its reset and the pace instead of retrying blindly
    # (a blind retry would be refused again and again).
    openai_server.rate_limit = RateLimit(requests=2, window=1.0, unit="second")
    outcomes = llm(max_retries=1, max_concurrency=8).qualify_leads_batch(leads(strong_lead, 8))
    assert all(isinstance(o, QualificationResult) for o in outcomes)
    assert openai_server.rejected <= 10  # the opening 6, and at most a few at window edges


def test_breaker_opens_routes_to_the_fallback_then_closes(llm, openai_server, strong_lead) -> None:
    # The primary (model "test-model") is down; the fallback is another OpenAI-compatible
    # endpoint (here the Cerebras provider, pointed at the same server, with another model).
    down = {"on": True}

    def handler(body):
        if body["model"] == "test-model" and down["on"]:
            return Reply(status=503)
        return answer(body)

    openai_server.handler = handler
    q = llm(
        fallbacks="cerebras:backup-model",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-test",
        breaker_threshold=2,
        breaker_cooldown=0.5,
    )
    first, second = q.qualify_lead(strong_lead), q.qualify_lead(strong_lead)
    for r in (first, second):
        assert (r.provider, r.model) == ("cerebras", "backup-model")
        assert Flag.FALLBACK_USED in r.flags
    assert q.describe()["breakers"]["openai:test-model"]["state"] == "open"

    sent = len(openai_server.requests)
    third = q.qualify_lead(strong_lead)
    assert third.model == "backup-model"
    primary_calls = [b for b in openai_server.requests[sent:] if b["model"] == "test-model"]
    assert primary_calls == []  # open: the primary is not called at all

    down["on"] = False
    time.sleep(0.6)  # past the cooldown: the next lead is the half-open probe
    fourth = q.qualify_lead(strong_lead)
    assert (fourth.model, fourth.flags) == ("test-model", [])
    assert q.describe()["breakers"]["openai:test-model"]["state"] == "closed"


def test_open_breaker_without_fallback_fails_fast_with_a_clear_error(
    llm, openai_server, strong_lead
) -> None:
    openai_server.handler = lambda body: Reply(status=500)
    outcomes = llm(breaker_threshold=3, breaker_cooldown=60).qualify_leads_batch(
        leads(strong_lead, 8), max_concurrency=1
    )
    assert all(isinstance(o, LeadError) for o in outcomes)
    assert len(openai_server.requests) == 3
    last = outcomes[-1]
    assert last.error == "provider_unavailable"
    assert "circuit open" in last.message


def test_rules_engine_as_last_resort_fallback(llm, openai_server, strong_lead) -> None:
    openai_server.handler = lambda body: Reply(content="not json at all")
    result = llm(fallbacks="rules", max_retries=2).qualify_lead(strong_lead)
    assert result.provider == "rules"
    assert Flag.FALLBACK_USED in result.flags
    assert len(openai_server.requests) == 2  # the answer, and its one repair attempt


def test_every_route_failing_names_each_failure(llm, openai_server, strong_lead) -> None:
    openai_server.handler = lambda body: Reply(status=502)
    q = llm(
        fallbacks="cerebras:backup-model",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-test",
    )
    with pytest.raises(ProviderUnavailable, match=r"openai answered HTTP 502.*cerebras"):
        q.qualify_lead(strong_lead)


def test_low_confidence_is_escalated_and_both_answers_kept(llm, openai_server, strong_lead) -> None:
    def handler(body):
        if body["model"] == "strong-model":
            return answer(body, {**GOOD, "confidence": 0.9, "fit_score": 0.95})
        unsure = lead_in(body)["lead_name"] == "Unsure"
        return answer(body, {**GOOD, "confidence": 0.3 if unsure else 0.85})

    openai_server.handler = handler
    q = llm(escalate_below=0.6, escalate_to="openai:strong-model")
    sure = q.qualify_lead(strong_lead)
    assert sure.model == "test-model"
    assert sure.escalated_from is None
    assert len(openai_server.requests) == 1

    escalated = q.qualify_lead({**strong_lead, "lead_name": "Unsure"})
    assert (escalated.model, escalated.confidence, escalated.fit_score) == (
        "strong-model",
        0.9,
        0.95,
    )
    assert Flag.ESCALATED in escalated.flags
    assert escalated.escalated_from["model"] == "test-model"
    assert escalated.escalated_from["confidence"] == 0.3
    assert [b["model"] for b in openai_server.requests[1:]] == ["test-model", "strong-model"]


def test_rules_engine_first_escalates_unsure_leads_to_an_llm(
    llm, openai_server, strong_lead
) -> None:
    openai_server.handler = lambda body: answer(body, {**GOOD, "confidence": 0.95})
    q = llm(provider="rules", escalate_below=0.99, escalate_to="openai:strong-model")
    result = q.qualify_lead(strong_lead)
    assert (result.provider, result.model) == ("openai", "strong-model")
    assert result.escalated_from["provider"] == "rules"
    assert Flag.ESCALATED in result.flags
    assert len(openai_server.requests) == 1


def test_failed_escalation_keeps_the_first_answer_flagged(llm, openai_server, strong_lead) -> None:
    def handler(body):
        if body["model"] == "strong-model":
            return Reply(status=500)
        return answer(body, {**GOOD, "confidence": 0.2})

    openai_server.handler = handler
    result = llm(escalate_below=0.6, escalate_to="openai:strong-model").qualify_lead(strong_lead)
    assert result.model == "test-model"
    assert Flag.ESCALATION_FAILED in result.flags


def test_budget_reached_switches_to_the_rules_engine(
    llm, openai_server, strong_lead, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["openai/test-model"]\ninput = 1000.0\noutput = 1000.0\n')
    q = llm(prices_file=prices, daily_budget_usd=0.05)
    first = q.qualify_lead(strong_lead)
    assert first.provider == "openai"
    assert first.cost_usd
    assert first.cost_usd >= 0.05
    second = q.qualify_lead(strong_lead)
    assert second.provider == "rules"
    assert Flag.BUDGET_EXCEEDED in second.flags
    assert len(openai_server.requests) == 1
    assert q.describe()["budget"]["exhausted"] is True


async def test_stream_falls_back_before_the_first_partial(llm, openai_server, strong_lead) -> None:
    openai_server.handler = lambda body: (
        Reply(status=503) if body["model"] == "test-model" else answer(body, chunk_chars=40)
    )
    q = llm(
        fallbacks="cerebras:backup-model",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-test",
    )
    items = [item async for item in q.stream_qualification(strong_lead)]
    final = items[-1]
    assert isinstance(final, QualificationResult)
    assert final.model == "backup-model"
    assert Flag.FALLBACK_USED in final.flags
