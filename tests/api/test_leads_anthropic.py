"""The HTTP API on the `anthropic` provider: Claude's stream as SSE partials then the result,
a mid-stream `error` event as the stream's error event, and Messages API failures mapped to
gateway statuses like any provider's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import LiveApp, sse_events
from tests.support.anthropic_server import Reply, ScriptedServer, error_body
from tests.support.llm import GOOD, claude_answer, scripted_anthropic_settings

LEAD = {
    "lead_name": "John Doe",
    "company_name": "Acme Corp",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$10M",
    "job_title": "VP Sales",
}


@pytest.fixture
def claude_app(live_app, anthropic_server: ScriptedServer) -> Callable[..., LiveApp]:
    """`claude_app(**settings)`: a live app on the `anthropic` provider pointed at the
    scripted Messages API server, answering GOOD."""
    anthropic_server.handler = lambda body: claude_answer(body)

    def start(**settings: Any) -> LiveApp:
        return live_app(**{**scripted_anthropic_settings(anthropic_server.url), **settings})

    return start


def test_stream_sends_partials_then_the_result(claude_app, anthropic_server) -> None:
    anthropic_server.handler = lambda body: claude_answer(body, chunk_chars=8, chunk_delay=0.01)
    with (
        claude_app().client() as api,
        api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r,
    ):
        events = list(sse_events(r))
        health = api.get("/api/leads/health").json()
    kinds = [e.name for e in events]
    partials = [e.data for e in events if e.name == "partial"]
    assert len(partials) >= 5
    assert kinds[-1] == "result"
    assert kinds.index("result") == len(partials)
    assert events[-1].data["fit_score"] == GOOD["fit_score"]
    assert (events[-1].data["provider"], events[-1].data["model"]) == (
        "anthropic",
        "claude-haiku-4-5",
    )
    assert (health["provider"], health["model"]) == ("anthropic", "claude-haiku-4-5")


def test_error_event_mid_stream_ends_in_an_error_event(claude_app, anthropic_server) -> None:
    anthropic_server.handler = lambda body: claude_answer(body, chunk_chars=8, error_after=10)
    with (
        claude_app(max_retries=2).client() as api,
        api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r,
    ):
        events = list(sse_events(r))
    kinds = [e.name for e in events]
    assert kinds[-1] == "error"
    assert set(kinds[:-1]) == {"partial"}
    error = events[-1].data["error"]
    assert error["error"] == "provider_unavailable"
    assert "overloaded_error" in error["message"]
    assert len(anthropic_server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (Reply(status=529, body=error_body(529, "Overloaded")), 503, "provider_unavailable"),
        (Reply(status=401), 502, "provider_rejected"),
        (Reply(text="I can't assess people.", stop_reason="refusal"), 502, "bad_provider_answer"),
        (Reply(text='{"fit_score": 0.', stop_reason="max_tokens"), 502, "bad_provider_answer"),
    ],
)
def test_failures_map_to_gateway_statuses(
    claude_app, anthropic_server, reply, status, code
) -> None:
    anthropic_server.handler = lambda body: reply
    with claude_app().client() as api:
        r = api.post("/api/leads/qualify", json=LEAD)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert "sk-ant-test" not in r.text
