"""The metric helpers, and metrics moving as leads are qualified (rules engine in process,
the LLM over HTTP against the scripted server). The registry is per process, so each test
compares before and after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.observability import metrics as m
from leadq.observability.metrics import REGISTRY
from leadq.qualifier import LeadQualifier
from leadq.service.leads import LeadService
from leadq.storage.db import make_engine, upgrade
from leadq.storage.store import Store
from tests.support.llm import answer
from tests.support.openai_server import Reply


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Sample values before and after a block."""

    def __init__(self, *series: tuple[str, dict[str, str]]) -> None:
        self.series = series
        self.before = [value(n, **lb) for n, lb in series]

    def __call__(self) -> list[float]:
        return [value(n, **lb) - b for (n, lb), b in zip(self.series, self.before, strict=True)]


def test_one_line_helpers_move_their_metrics() -> None:
    d = Delta(
        ("leadq_retries_total", {"provider": "p1", "reason": "rate_limited"}),
        ("leadq_rate_limit_waits_total", {"provider": "p1"}),
        ("leadq_rate_limit_wait_seconds_total", {"provider": "p1"}),
        ("leadq_cache_lookups_total", {"result": "hit"}),
        ("leadq_cache_lookups_total", {"result": "miss"}),
        ("leadq_budget_switches_total", {}),
    )
    m.count_retry("p1", "rate_limited")
    m.observe_rate_wait("p1", 1.5)
    m.observe_rate_wait("p1", 0.25)
    m.count_cache(True)
    m.count_cache(False)
    m.count_cache(False)
    m.count_budget_switch()
    assert d() == [1, 2, 1.75, 1, 2, 1]


def test_breaker_gauge_follows_the_state() -> None:
    for state, expected in (("open", 2), ("half_open", 1), ("closed", 0)):
        m.set_breaker("p2", state)  # type: ignore[arg-type]
        assert value("leadq_breaker_state", provider="p2") == expected


def test_observe_call_counts_status_tokens_cost_and_errors() -> None:
    lead = LeadInput.parse({"lead_name": "A", "company_name": "B"})
    labels = {"provider": "p3", "model": "m3"}
    d = Delta(
        ("leadq_provider_calls_total", {**labels, "status": "ok"}),
        ("leadq_provider_calls_total", {**labels, "status": "rate_limited"}),
        ("leadq_tokens_total", {**labels, "direction": "input"}),
        ("leadq_tokens_total", {**labels, "direction": "output"}),
        ("leadq_cost_usd_total", labels),
        (
            "leadq_provider_errors_total",
            {"provider": "p3", "code": "rate_limited", "error_class": "RateLimitError"},
        ),
        ("leadq_provider_call_seconds_count", labels),
        ("leadq_provider_call_seconds_sum", labels),
    )
    m.observe_call(CallAttempt(lead, "p3", "m3", "ok", 1500.0, 200, 900, 100, 0.002))
    m.observe_call(
        CallAttempt(lead, "p3", "m3", "rate_limited", 500.0, 429, error_class="RateLimitError")
    )
    assert d() == pytest.approx([1, 1, 900, 100, 0.002, 1, 2, 2.0])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    s = Store(engine)
    yield s
    s.close()


def test_rules_engine_leads_move_lead_metrics(store: Store, strong_lead) -> None:
    service = LeadService(LeadQualifier(Settings(provider="rules")), store)
    d = Delta(
        (
            "leadq_leads_total",
            {
                "provider": "rules",
                "model": service.qualifier.model,
                "prompt_version": "rules",
                "action": "immediate_outreach",
            },
        ),
        ("leadq_lead_seconds_count", {"provider": "rules", "model": service.qualifier.model}),
        ("leadq_lead_failures_total", {"provider": "", "code": "invalid_input"}),
    )
    asyncio.run(service.batch([strong_lead, strong_lead, {"company_name": "no name"}]))
    assert d() == [2, 2, 1]


def test_llm_calls_move_call_token_and_cost_metrics(
    llm: Callable[..., LeadQualifier], openai_server, store: Store, strong_lead
) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    openai_server.queue(Reply(status=503, content="busy"))
    openai_server.handler = lambda body: answer(body, usage=usage)
    qualifier = llm(provider="cerebras", max_retries=1)
    labels = {"provider": "cerebras", "model": "gpt-oss-120b"}
    d = Delta(
        ("leadq_provider_calls_total", {**labels, "status": "ok"}),
        ("leadq_provider_calls_total", {**labels, "status": "provider_unavailable"}),
        ("leadq_tokens_total", {**labels, "direction": "input"}),
        ("leadq_cost_usd_total", labels),
        ("leadq_leads_total", {**labels, "prompt_version": "v3", "action": "immediate_outreach"}),
    )
    service = LeadService(qualifier, store)
    out = asyncio.run(service.qualify(LeadInput.parse(strong_lead)))
    assert out.qualification_id is not None
    assert d() == pytest.approx([1, 1, 1000, (1000 * 0.35 + 500 * 0.75) / 1e6, 1])
