"""Resilience over real HTTP against the scripted server: a provider-side rate limit, the
circuit breaker and fallback routing, escalation, the daily budget guard, and routing the
leads the rules engine rates high to another model."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from leadq.backends.factory import make_backend
from leadq.backends.routing import RoutingBackend
from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.errors import ProviderNotConfigured, ProviderUnavailable
from leadq.core.lead import LeadInput
from leadq.core.result import Flag, LeadError, QualificationResult
from leadq.observability.metrics import REGISTRY
from leadq.qualifier import LeadQualifier
from tests.support.llm import GOOD, answer, lead_in
from tests.support.openai_server import RateLimit, Reply, ScriptedServer


def leads(strong_lead: dict[str, str], n: int) -> list[dict[str, str]]:
    return [{**strong_lead, "lead_id": f"L-{i}", "lead_name": f"Lead {i}"} for i in range(n)]


@pytest.mark.slow  # half a minute by design; tests/providers pace smaller batches
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


# The rules engine rates this lead 0.26 (a restaurant's intern), and `strong_lead` 0.9.
COLD = {"lead_id": "C-1", "lead_name": "Cold", "company_name": "Tiny", "industry": "Restaurant"}
COLD["job_title"] = "Intern"
BIG = {**GOOD, "fit_score": 0.95}  # what the routed model answers


@pytest.fixture
def routed(
    llm: Callable[..., LeadQualifier], other_server: ScriptedServer
) -> Callable[..., LeadQualifier]:
    """`routed(**settings)`: the `openai` provider (model test-model) on the session's server
    for cold leads; leads rated 0.6 and up go to `cerebras:big-model` on a second server."""
    other_server.handler = lambda body: answer(body, BIG)

    def make(**overrides: Any) -> LeadQualifier:
        settings = {
            "route_above": 0.6,
            "route_to": "cerebras:big-model",
            "cerebras_base_url": other_server.url,
            "cerebras_api_key": "csk-test",
            **overrides,
        }
        return llm(**settings)

    return make


def models(server: ScriptedServer) -> list[str]:
    return [body["model"] for body in server.requests]


def route_count(route: str, provider: str, model: str) -> float:
    labels = {"route": route, "provider": provider, "model": model}
    return REGISTRY.get_sample_value("leadq_route_leads_total", labels) or 0.0


def test_a_hot_lead_goes_to_the_routed_model_and_a_cold_one_to_the_default(
    routed, openai_server, other_server, strong_lead
) -> None:
    q = routed()
    before = (
        route_count("routed", "cerebras", "big-model"),
        route_count("default", "openai", "test-model"),
    )
    hot, cold = q.qualify_lead(strong_lead), q.qualify_lead(COLD)
    assert (hot.provider, hot.model, hot.fit_score) == ("cerebras", "big-model", 0.95)
    assert hot.flags == [Flag.ROUTED]
    assert (cold.provider, cold.model) == ("openai", "test-model")
    assert Flag.ROUTED not in cold.flags
    assert models(other_server) == ["big-model"]
    assert models(openai_server) == ["test-model"]
    after = (
        route_count("routed", "cerebras", "big-model"),
        route_count("default", "openai", "test-model"),
    )
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    assert q.describe()["routing"] == {"above": 0.6, "to": "cerebras:big-model"}
    assert set(q.describe()["breakers"]) == {"openai:test-model", "cerebras:big-model"}


def test_a_batch_routes_each_lead(routed, openai_server, other_server, strong_lead) -> None:
    batch = [strong_lead, COLD, {**strong_lead, "lead_id": "L-2"}, {**COLD, "lead_id": "C-2"}]
    outcomes = routed().qualify_leads_batch(batch)
    assert [o.model for o in outcomes if isinstance(o, QualificationResult)] == [
        "big-model",
        "test-model",
        "big-model",
        "test-model",
    ]
    assert len(other_server.requests) == len(openai_server.requests) == 2


async def test_a_stream_is_routed_too(routed, other_server, strong_lead) -> None:
    other_server.handler = lambda body: answer(body, BIG, chunk_chars=40)
    items = [item async for item in routed().stream_qualification(strong_lead)]
    final = items[-1]
    assert isinstance(final, QualificationResult)
    assert (final.model, final.flags) == ("big-model", [Flag.ROUTED])
    assert models(other_server) == ["big-model"]
    assert other_server.requests[0]["stream"] is True


def test_the_threshold_is_inclusive_and_the_rules_engine_rates_the_lead(
    routed, openai_server, other_server, strong_lead
) -> None:
    q = routed(route_above=0.26)  # COLD is rated 0.263
    assert q.qualify_lead(COLD).model == "big-model"
    at = RoutingBackend(RulesBackend(Settings()), RulesBackend(Settings()), 0.5, lambda _: 0.5)
    assert at.route(LeadInput.parse(COLD)) == "routed"
    below = RoutingBackend(RulesBackend(Settings()), RulesBackend(Settings()), 0.5, lambda _: 0.49)
    assert below.route(LeadInput.parse(COLD)) == "default"


def test_the_routed_model_down_falls_back_to_the_default_lane(
    routed, openai_server, other_server, strong_lead
) -> None:
    other_server.handler = lambda body: Reply(status=503)
    q = routed(breaker_threshold=2, breaker_cooldown=60)
    results = [q.qualify_lead(strong_lead) for _ in range(3)]
    for r in results:
        assert (r.provider, r.model) == ("openai", "test-model")
        assert set(r.flags) == {Flag.ROUTED, Flag.FALLBACK_USED}
    assert len(other_server.requests) == 2  # then its breaker opened
    assert q.describe()["breakers"]["cerebras:big-model"]["state"] == "open"
    assert q.describe()["breakers"]["openai:test-model"]["state"] == "closed"


def test_escalation_applies_to_the_default_lane_only(
    routed, openai_server, other_server, strong_lead
) -> None:
    openai_server.handler = lambda body: answer(
        body, {**GOOD, "confidence": 0.3 if body["model"] == "test-model" else 0.9}
    )
    other_server.handler = lambda body: answer(body, {**BIG, "confidence": 0.3})
    q = routed(escalate_below=0.6, escalate_to="openai:strong-model")
    hot, cold = q.qualify_lead(strong_lead), q.qualify_lead(COLD)
    assert (hot.model, hot.flags, hot.escalated_from) == ("big-model", [Flag.ROUTED], None)
    assert cold.model == "strong-model"
    assert Flag.ESCALATED in cold.flags
    assert Flag.ROUTED not in cold.flags
    assert models(openai_server) == ["test-model", "strong-model"]


def test_nothing_is_routed_once_the_budget_is_used_up(
    llm, other_server, strong_lead, tmp_path: Path
) -> None:
    # Rules for cold leads, a priced LLM for hot ones: the budget guard cannot switch a
    # rules-first backend, so the router itself stops routing.
    other_server.handler = lambda body: answer(body, BIG)
    prices = tmp_path / "prices.toml"
    prices.write_text('["cerebras/big-model"]\ninput = 1000.0\noutput = 1000.0\n')
    q = llm(
        provider="rules",
        route_above=0.6,
        route_to="cerebras:big-model",
        cerebras_base_url=other_server.url,
        cerebras_api_key="csk-test",
        prices_file=prices,
        daily_budget_usd=0.05,
    )
    first, second = q.qualify_lead(strong_lead), q.qualify_lead(strong_lead)
    assert (first.model, first.flags) == ("big-model", [Flag.ROUTED])
    assert first.cost_usd
    assert first.cost_usd >= 0.05
    assert second.provider == "rules"
    assert Flag.ROUTED not in second.flags
    assert len(other_server.requests) == 1


def test_route_above_without_route_to_is_a_startup_error_naming_both() -> None:
    with pytest.raises(ProviderNotConfigured) as info:
        make_backend(Settings(provider="rules", route_above=0.6))
    assert "LEADQ_ROUTE_ABOVE" in str(info.value)
    assert "LEADQ_ROUTE_TO" in str(info.value)
    with pytest.raises(ProviderNotConfigured, match="LEADQ_ROUTE_TO is set but LEADQ_ROUTE_ABOVE"):
        make_backend(Settings(provider="rules", route_to="openai:gpt-4o"))
    with pytest.raises(ProviderNotConfigured, match="LEADQ_ROUTE_TO: unknown provider"):
        make_backend(Settings(provider="rules", route_above=0.6, route_to="nowhere:x"))


@pytest.mark.parametrize("value", ["-0.1", "1.01", "60"])
def test_route_above_outside_0_to_1_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LEADQ_ROUTE_ABOVE", value)
    with pytest.raises(ValidationError, match="LEADQ_ROUTE_ABOVE"):
        Settings()
