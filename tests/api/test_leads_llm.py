"""The HTTP API over the LLM path: SSE from real token streams, provider failures mapped to
502/503/504, per-lead errors, and client disconnects that stop provider calls."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.conftest import data_lines, sse_events
from tests.support.llm import GOOD, answer, lead_in
from tests.support.openai_server import Reply

LEAD = {
    "lead_name": "John Doe",
    "company_name": "Acme Corp",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$10M",
    "job_title": "VP Sales",
}


def test_qualify_over_llm(llm_app) -> None:
    with llm_app().client() as api:
        body = api.post("/api/leads/qualify", json=LEAD).json()
        health = api.get("/api/leads/health").json()
    assert body["status"] == "success"
    assert body["data"]["provider"] == "cerebras"
    assert body["data"]["fit_score"] == GOOD["fit_score"]
    assert (health["provider"], health["model"], health["configured"]) == (
        "cerebras",
        "gpt-oss-120b",
        True,
    )


def test_stream_sends_partials_as_tokens_arrive_then_the_result_last(
    llm_app, openai_server
) -> None:
    openai_server.handler = lambda body: answer(body, chunk_chars=8, chunk_delay=0.01)
    with llm_app().client() as api, api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r:
        events = list(sse_events(r))
    kinds = [e.name for e in events]
    assert kinds[-1] == "result"
    assert events[-1].data["fit_score"] == GOOD["fit_score"]
    assert events[-1].data["provider"] == "cerebras"
    partials = [e.data for e in events if e.name == "partial"]
    assert len(partials) >= 5
    assert kinds.index("result") == len(partials)
    assert len(partials[0]) < len(partials[-1])
    assert all(0 <= v <= 1 for p in partials for k, v in p.items() if k.endswith("_score"))


def test_a_seed_stream_client_takes_the_last_data_line_as_the_result(
    llm_app, openai_server
) -> None:
    # The original design's client: every `data:` line is JSON, the last one is the result.
    openai_server.handler = lambda body: answer(body, chunk_chars=8, chunk_delay=0.01)
    with llm_app().client() as api, api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r:
        chunks = data_lines(r)
    assert len(chunks) > 1  # partials first
    final = chunks[-1]
    assert final["overall_score"] == 0.755
    assert final["recommended_action"] == GOOD["recommended_action"]
    assert all("type" not in c and "data" not in c for c in chunks)


def test_first_partial_arrives_before_the_model_finishes(llm_app, openai_server) -> None:
    # 40 chunks, 50 ms apart: the whole answer takes ~2 s to stream. The first partial must be
    # read while the provider is still sending (its request not yet completed).
    openai_server.handler = lambda body: answer(body, chunk_chars=15, chunk_delay=0.05)
    with llm_app().client() as api, api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r:
        first = next(sse_events(r))
        completed_at_first = openai_server.completed
    assert first.name == "partial"
    assert completed_at_first == 0


@pytest.mark.parametrize(
    ("reply", "timeout", "status", "code"),
    [
        (Reply(content="I think this lead is great!"), 30, 502, "bad_provider_answer"),
        (Reply(status=500, body={"message": "boom"}), 30, 503, "provider_unavailable"),
        (Reply(status=429), 30, 503, "rate_limited"),
        (Reply(status=401, body={"message": "Wrong API Key"}), 30, 502, "provider_rejected"),
        # Only the timeout case has a short timeout: on a loaded machine a fast failure can take
        # longer than half a second to come back, and must still be reported as what it was.
        (Reply(content="{}", delay=5), 0.5, 504, "provider_timeout"),
    ],
)
def test_provider_failures_map_to_gateway_statuses(
    llm_app, openai_server, reply, timeout, status, code
) -> None:
    openai_server.handler = lambda body: reply
    with llm_app(timeout=timeout).client() as api:
        r = api.post("/api/leads/qualify", json=LEAD)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == code
    assert "Traceback" not in r.text
    assert "csk-test" not in r.text


def test_stream_error_is_an_event_not_a_broken_stream(llm_app, openai_server) -> None:
    openai_server.handler = lambda body: Reply(status=500, body={"message": "boom"})
    with llm_app().client() as api, api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r:
        events = list(sse_events(r))
    assert [e.name for e in events] == ["error"]
    error = events[0].data["error"]
    assert (error["error"], error["retryable"]) == ("provider_unavailable", True)
    assert error["message"]


def test_batch_and_as_completed_keep_going_past_failures(llm_app, openai_server) -> None:
    def handler(body):
        if lead_in(body)["lead_name"] == "Bad":
            return Reply(content="not json at all")
        return answer(body)

    openai_server.handler = handler
    leads = [LEAD, {**LEAD, "lead_name": "Bad"}, {"lead_name": "x"}, LEAD]
    with llm_app().client() as api:
        batch = api.post("/api/leads/qualify-batch", json=leads).json()
        with api.stream("POST", "/api/leads/qualify-as-completed", json=leads) as r:
            events = list(sse_events(r))
    assert batch["count"] == 4
    assert batch["failed"] == 2
    assert batch["data"][1]["error"]["error"] == "bad_provider_answer"
    assert batch["data"][2]["error"]["field"] == "company_name"
    assert "overall_score" in batch["data"][3]
    assert {e.name for e in events} == {"item"}
    items = {e.data["index"]: e.data for e in events}
    assert len(events) == len(items) == 4
    assert items[1]["error"]["error"] == "bad_provider_answer"
    assert items[2]["error"]["field"] == "company_name"
    assert items[3]["result"]["fit_score"] == GOOD["fit_score"]
    assert set(items[0]) == {"index", "result"}


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_disconnect_cancels_in_flight_provider_calls(llm_app, openai_server) -> None:
    # Lead 0 answers at once, every other lead takes 3 s; 40 leads, 4 at a time. Read the
    # first result (lead 0) while leads 1-3 are in flight, then hang up.
    openai_server.handler = lambda body: answer(
        body, delay=0.0 if lead_in(body)["lead_name"] == "Lead 0" else 3.0
    )
    leads = [{**LEAD, "lead_name": f"Lead {i}"} for i in range(40)]
    app = llm_app(max_concurrency=4)
    with (
        httpx.Client(base_url=app.url, timeout=30) as api,
        api.stream("POST", "/api/leads/qualify-as-completed", json=leads) as r,
    ):
        first = next(sse_events(r))
    assert first.name == "item"
    assert _wait_for(lambda: openai_server.in_flight == 0)
    assert openai_server.cancelled >= 3  # calls in flight were abandoned, not finished
    assert openai_server.completed == 1
    time.sleep(0.5)
    assert len(openai_server.requests) <= 8  # and no new ones were started


def test_disconnect_from_a_single_stream_stops_its_call(llm_app, openai_server) -> None:
    openai_server.handler = lambda body: answer(body, chunk_chars=4, chunk_delay=0.1)
    app = llm_app()
    with (
        httpx.Client(base_url=app.url, timeout=30) as api,
        api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as r,
    ):
        assert next(sse_events(r)).name == "partial"
    assert _wait_for(lambda: openai_server.cancelled == 1)
    assert openai_server.completed == 0
