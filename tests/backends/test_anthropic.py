"""The LLM backend on the `anthropic` provider, over real HTTP against the scripted Messages
API server: the request it sends, streams, stop reasons, failures and their retries, limits
learned from `anthropic-ratelimit-*` headers, and routes that name it."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from leadq.backends.llm import LLMBackend
from leadq.chain.answer_schema import ANSWER_NAME, ANSWER_SCHEMA
from leadq.config import Settings
from leadq.core.errors import (
    BadProviderAnswer,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
)
from leadq.core.result import Flag, LeadError, PartialResult, QualificationResult
from leadq.qualifier import LeadQualifier
from tests.support.anthropic_server import RateLimit, Reply, ScriptedServer, error_body, rfc3339
from tests.support.llm import GOOD, claude_answer, lead_in, scripted_anthropic_settings
from tests.support.openai_server import Reply as ChatReply

Qualifier = Callable[..., LeadQualifier]


@pytest.fixture
def claude(anthropic_server: ScriptedServer) -> Iterator[Qualifier]:
    """`claude(**settings)`: a qualifier on the `anthropic` provider pointed at the scripted
    Messages API server, answering every lead well unless the test scripts otherwise."""
    anthropic_server.handler = lambda body: claude_answer(body)
    made: list[LeadQualifier] = []

    def make(**overrides: Any) -> LeadQualifier:
        base = scripted_anthropic_settings(anthropic_server.url)
        q = LeadQualifier(Settings(**{**base, **overrides}))
        made.append(q)
        return q

    yield make
    for q in made:
        q.close()


def llm_backend(q: LeadQualifier) -> LLMBackend:
    backend = q.backend.unwrap()
    assert isinstance(backend, LLMBackend)
    return backend


def test_one_lead_sends_key_version_system_budget_and_schema(
    claude, anthropic_server, strong_lead
) -> None:
    result = claude().qualify_lead(strong_lead)
    assert isinstance(result, QualificationResult)
    assert (result.provider, result.model) == ("anthropic", "claude-haiku-4-5")
    assert result.fit_score == GOOD["fit_score"]
    headers = anthropic_server.request_headers[-1]
    assert headers["x-api-key"] == "sk-ant-test"
    assert headers["anthropic-version"] == "2023-06-01"
    body = anthropic_server.requests[-1]
    assert "<seller>" in body["system"]  # the instructions, in the top-level field
    [turn] = body["messages"]
    assert turn["role"] == "user"
    assert lead_in(body)["company_name"] == "Acme Corp"
    assert body["max_tokens"] == 1536
    assert body["temperature"] == 0.0
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}
    for chat_field in ("response_format", "max_completion_tokens", "reasoning_effort", "tools"):
        assert chat_field not in body


def test_usage_and_cost_from_the_price_table(claude, anthropic_server, strong_lead) -> None:
    usage = {"input_tokens": 800, "cache_read_input_tokens": 200, "output_tokens": 500}
    anthropic_server.handler = lambda body: claude_answer(body, usage=usage)
    result = claude().qualify_lead(strong_lead)
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1000, 500)
    assert result.usage.cached_tokens == 200
    assert result.cost_usd == pytest.approx((1000 * 1.0 + 500 * 5.0) / 1e6)  # haiku-4-5


def test_function_calling_is_a_strict_forced_tool(claude, anthropic_server, strong_lead) -> None:
    result = claude(structured_output="function_calling").qualify_lead(strong_lead)
    assert result.fit_score == GOOD["fit_score"]
    body = anthropic_server.requests[-1]
    (tool,) = body["tools"]
    assert (tool["name"], tool["strict"], tool["input_schema"]) == (
        ANSWER_NAME,
        True,
        ANSWER_SCHEMA,
    )
    assert body["tool_choice"] == {"type": "tool", "name": ANSWER_NAME}
    assert "output_config" not in body


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
async def test_stream_gives_growing_partials_then_the_result(
    claude, anthropic_server, strong_lead, method
) -> None:
    anthropic_server.handler = lambda body: claude_answer(body, chunk_chars=10)
    items = [i async for i in claude(structured_output=method).stream_qualification(strong_lead)]
    partials, final = items[:-1], items[-1]
    assert len(partials) >= 5
    assert all(isinstance(p, PartialResult) for p in partials)
    assert partials[0].fields.keys() <= partials[-1].fields.keys()
    assert isinstance(final, QualificationResult)
    assert final.fit_score == GOOD["fit_score"]
    assert anthropic_server.requests[-1]["stream"] is True


async def test_error_event_mid_stream_ends_the_lead_in_an_error(
    claude, anthropic_server, strong_lead
) -> None:
    anthropic_server.handler = lambda body: claude_answer(body, chunk_chars=10, error_after=8)
    items: list[object] = []

    async def read() -> None:
        async for item in claude(max_retries=2).stream_qualification(strong_lead):
            items.append(item)  # noqa: PERF401 - what came before the error is the point

    with pytest.raises(ProviderUnavailable, match="overloaded_error"):
        await read()
    assert items
    assert all(isinstance(i, PartialResult) for i in items)
    assert len(anthropic_server.requests) == 1  # partials were shown: no silent restart


async def test_error_event_before_any_answer_is_retried(
    claude, anthropic_server, strong_lead
) -> None:
    anthropic_server.queue(Reply(text=json.dumps(GOOD), error_after=0))
    items = [i async for i in claude(max_retries=1).stream_qualification(strong_lead)]
    assert isinstance(items[-1], QualificationResult)
    assert len(anthropic_server.requests) == 2


def test_529_overloaded_is_retried_like_a_5xx(claude, anthropic_server, strong_lead) -> None:
    anthropic_server.queue(Reply(status=529, body=error_body(529, "Overloaded")))
    result = claude(max_retries=2).qualify_lead(strong_lead)
    assert isinstance(result, QualificationResult)
    assert len(anthropic_server.requests) == 2
    anthropic_server.queue(Reply(status=529))
    with pytest.raises(ProviderUnavailable, match="HTTP 529"):
        claude(max_retries=0).qualify_lead(strong_lead)


@pytest.mark.parametrize(
    ("status", "named"), [(400, "HTTP 400"), (401, "ANTHROPIC_API_KEY"), (403, "HTTP 403")]
)
def test_client_errors_are_not_retried(
    claude, anthropic_server, strong_lead, status, named
) -> None:
    anthropic_server.handler = lambda body: Reply(status=status)
    with pytest.raises(ProviderRejected, match=named):
        claude(max_retries=3).qualify_lead(strong_lead)
    assert len(anthropic_server.requests) == 1


def test_429_waits_for_retry_after_then_succeeds(claude, anthropic_server, strong_lead) -> None:
    soon = rfc3339(time.time() + 0.3)
    anthropic_server.queue(
        Reply(
            status=429,
            body=error_body(429),
            headers={
                "retry-after": "1",
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": soon,
            },
        )
    )
    result = claude(max_retries=0).qualify_lead(strong_lead)  # a 429 is waited out anyway
    assert isinstance(result, QualificationResult)
    assert len(anthropic_server.requests) == 2


def test_max_tokens_stop_is_an_explicit_error_after_one_repair(
    claude, anthropic_server, strong_lead
) -> None:
    cut = json.dumps(GOOD)[:60]
    anthropic_server.handler = lambda body: Reply(text=cut, stop_reason="max_tokens")
    with pytest.raises(BadProviderAnswer, match="LEADQ_MAX_COMPLETION_TOKENS"):
        claude(max_retries=2).qualify_lead(strong_lead)
    first, repair = anthropic_server.requests
    assert [m["role"] for m in repair["messages"]] == ["user", "assistant", "user"]
    assert repair["messages"][1]["content"] == cut  # the model is shown where it stopped
    assert repair["system"] == first["system"]


@pytest.mark.parametrize("stream", [False, True])
async def test_refusal_is_an_explicit_error(claude, anthropic_server, strong_lead, stream) -> None:
    anthropic_server.handler = lambda body: Reply(text="I can't help.", stop_reason="refusal")
    q = claude(max_retries=2)

    async def qualify() -> None:
        if stream:
            _ = [i async for i in q.stream_qualification(strong_lead)]
        else:
            await q.qualify_lead_async(strong_lead)

    with pytest.raises(BadProviderAnswer, match="refused"):
        await qualify()
    assert len(anthropic_server.requests) == 2  # asked once more, as any unusable answer


def test_batch_of_40_under_30_requests_a_minute_with_529s_and_refusals(
    claude, anthropic_server, strong_lead
) -> None:
    """30 requests a minute as the headers say it, in windows of 2 s (time compressed: the
    resets come sooner, the limit is the same): 40 leads, of which 4 are overloaded once and
    3 always refused. Every lead has one outcome, in order: a result or its error."""
    overloaded = {f"Lead {i}" for i in (3, 11, 22, 35)}
    refused = {f"Lead {i}" for i in (5, 17, 29)}
    seen: Counter[str] = Counter()

    def handler(body: dict[str, Any]) -> Reply:
        name = lead_in(body)["lead_name"]
        seen[name] += 1
        if name in overloaded and seen[name] == 1:
            return Reply(status=529, body=error_body(529, "Overloaded"))
        if name in refused:
            return Reply(text="I can't assess this person.", stop_reason="refusal")
        return claude_answer(body)

    anthropic_server.handler = handler
    anthropic_server.rate_limit = RateLimit(requests=30, window=2.0)
    leads = [
        {
            **strong_lead,
            "lead_id": f"L-{i}",
            "lead_name": f"Lead {i}",
            "email": f"l{i}@acme.example",
        }
        for i in range(40)
    ]
    q = claude(max_retries=2, retry_base_delay=0.05)
    outcomes = q.qualify_leads_batch(leads)

    assert [o.lead_id for o in outcomes] == [f"L-{i}" for i in range(40)]  # none lost or doubled
    errors = {o.lead_id: o for o in outcomes if isinstance(o, LeadError)}
    assert set(errors) == {"L-5", "L-17", "L-29"}
    assert all(e.error == "bad_provider_answer" and "refused" in e.message for e in errors.values())
    results = [o for o in outcomes if isinstance(o, QualificationResult)]
    assert len(results) == 37
    assert all(0 <= r.overall_score <= 1 and r.provider == "anthropic" for r in results)
    assert all(seen[name] == 2 for name in overloaded | refused)  # each retried once
    assert sum(seen.values()) == 40 + 4 + 3
    # The limit was learned from the headers and kept to: nothing (or next to nothing, a
    # window's edge) refused, where 40 leads at once would have had 10 refused.
    learned = llm_backend(q).limiter.learned
    assert learned["requests/60s"] == 30
    # A slow moment at a 2-s window's edge can cost a few more; half the 10 still tells.
    assert anthropic_server.rejected <= 5


def test_limits_are_learned_from_anthropic_headers(claude, anthropic_server, strong_lead) -> None:
    anthropic_server.rate_limit = RateLimit(
        requests=50, window=60, input_tokens=40_000, output_tokens=8_000
    )
    q = claude()
    q.qualify_lead(strong_lead)
    assert llm_backend(q).limiter.learned == {
        "requests/60s": 50,
        "input_tokens/60s": 40_000,
        "output_tokens/60s": 8_000,
    }


def test_temperature_is_left_out_for_models_that_refuse_it(
    claude, anthropic_server, strong_lead
) -> None:
    result = claude(model="claude-opus-4-7").qualify_lead(strong_lead)
    assert result.model == "claude-opus-4-7"
    assert "temperature" not in anthropic_server.requests[-1]
    assert result.cost_usd is None  # no price in the table: none made up


def test_reasoning_effort_reaches_claude_as_output_config_effort(
    claude, anthropic_server, strong_lead
) -> None:
    result = claude(model="claude-opus-4-7", reasoning_effort="low").qualify_lead(strong_lead)
    assert result.fit_score == GOOD["fit_score"]
    assert anthropic_server.requests[-1]["output_config"]["effort"] == "low"


def test_json_mode_is_refused_naming_the_setting(anthropic_server) -> None:
    settings = scripted_anthropic_settings(anthropic_server.url)
    with pytest.raises(ProviderNotConfigured, match="LEADQ_STRUCTURED_OUTPUT=json_mode"):
        LeadQualifier(Settings(**settings, structured_output="json_mode"))


def test_fallback_route_to_anthropic(llm, openai_server, anthropic_server, strong_lead) -> None:
    openai_server.handler = lambda body: ChatReply(status=503)  # the primary is down
    anthropic_server.handler = lambda body: claude_answer(body)
    q = llm(
        fallbacks="anthropic:claude-haiku-4-5",
        anthropic_base_url=anthropic_server.url,
        anthropic_api_key="sk-ant-test",
    )
    result = q.qualify_lead(strong_lead)
    assert (result.provider, result.model) == ("anthropic", "claude-haiku-4-5")
    assert Flag.FALLBACK_USED in result.flags
    assert len(anthropic_server.requests) == 1


def test_escalation_to_a_stronger_claude(claude, anthropic_server, strong_lead) -> None:
    q = claude(provider="rules", escalate_below=0.99, escalate_to="anthropic:claude-sonnet-4-5")
    result = q.qualify_lead(strong_lead)
    assert (result.provider, result.model) == ("anthropic", "claude-sonnet-4-5")
    assert Flag.ESCALATED in result.flags
    assert anthropic_server.requests[-1]["model"] == "claude-sonnet-4-5"
    assert result.cost_usd is not None  # sonnet-4-5 has a price
