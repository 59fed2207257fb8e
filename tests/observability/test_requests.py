"""Request ids and lead events through the real app under uvicorn: the id comes back in a
header and is on every event of the request; names, emails and free text stay out of the
events unless LEADQ_LOG_PII=1; keys are never in them."""

from __future__ import annotations

import json
import logging

import pytest

from leadq.observability.logs import JsonFormatter
from leadq.observability.requests import pick_request_id
from tests.support.llm import answer

LEAD = {
    "lead_id": "CRM-77",
    "lead_name": "Zelda Quartermain",
    "email": "zelda.q@privatemail.example",
    "company_name": "Quartermain Widgets",
    "industry": "SaaS",
    "company_size": "200",
    "job_title": "VP Sales",
    "engagement_history": "Mentioned her divorce lawyer on the call",
}
PII = ("Zelda", "Quartermain", "zelda.q@privatemail.example", "divorce")


def events(caplog: pytest.LogCaptureFixture) -> list[dict]:
    fmt = JsonFormatter()  # no scrubbing: the events themselves must be clean
    return [json.loads(fmt.format(r)) for r in caplog.records if r.name == "leadq.events"]


def test_sane_ids_are_kept_others_replaced() -> None:
    assert pick_request_id("abc-123_X.y:z") == "abc-123_X.y:z"
    for bad in (None, "", "a b", "x\r\nSet-Cookie: y", "é", "a" * 129):
        new = pick_request_id(bad)
        assert new != bad
        assert len(new) == 32
        assert new.isalnum()


def test_request_id_header_and_events_without_pii(live_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger="leadq.events")
    app = live_app(provider="rules", api_keys="app-key-0001")
    with app.client(headers={"X-API-Key": "app-key-0001"}) as api:
        given = api.post("/api/leads/qualify", json=LEAD, headers={"X-Request-ID": "trace-42"})
        made = api.post("/api/leads/qualify-batch", json=[LEAD, {"company_name": "x"}])
        forged = api.get("/api/leads/health", headers={"X-Request-ID": b"bad id\xe9"})
    assert given.status_code == 200
    assert given.headers["X-Request-ID"] == "trace-42"
    new_id = made.headers["X-Request-ID"]
    assert new_id != "trace-42"
    assert len(new_id) == 32
    replaced = forged.headers["X-Request-ID"]
    assert len(replaced) == 32
    assert replaced.isalnum()
    assert replaced != new_id
    evs = events(caplog)
    first = [e for e in evs if e.get("request_id") == "trace-42"]
    assert [e["event"] for e in first] == ["lead.qualified", "http.request"]
    qualified = first[0]
    data = given.json()["data"]
    assert qualified["qualification_id"] == data["qualification_id"]
    assert (qualified["lead_id"], qualified["action"]) == ("CRM-77", data["recommended_action"])
    assert qualified["overall_score"] == data["overall_score"]
    assert qualified["provider"] == "rules"
    batch = [e for e in evs if e.get("request_id") == new_id]
    assert sorted(e["event"] for e in batch) == ["http.request", "lead.failed", "lead.qualified"]
    failed = next(e for e in batch if e["event"] == "lead.failed")
    assert (failed["error"], failed["field"]) == ("invalid_input", "lead_name")
    http = next(e for e in batch if e["event"] == "http.request")
    assert (http["route"], http["status"]) == ("/api/leads/qualify-batch", 200)
    dump = json.dumps(evs)
    for text in (*PII, "app-key-0001"):
        assert text not in dump, text


def test_pii_is_logged_when_asked(live_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger="leadq.events")
    with live_app(provider="rules", log_pii=True).client() as api:
        rid = api.post("/api/leads/qualify", json=LEAD).headers["X-Request-ID"]
    (qualified,) = [e for e in events(caplog) if e["event"] == "lead.qualified"]
    assert qualified["request_id"] == rid
    assert qualified["lead_name"] == LEAD["lead_name"]
    assert qualified["email"] == LEAD["email"]
    assert qualified["company_name"] == LEAD["company_name"]
    assert qualified["reasoning"]


def test_llm_calls_log_provider_call_events_without_the_key(
    live_app, openai_server, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="leadq.events")
    openai_server.handler = lambda body: answer(body)
    app = live_app(
        provider="cerebras",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-never-logged-123",
        max_retries=0,
    )
    with app.client() as api:
        rid = api.post("/api/leads/qualify", json=LEAD).headers["X-Request-ID"]
    mine = [e for e in events(caplog) if e.get("request_id") == rid]
    assert [e["event"] for e in mine] == ["provider.call", "lead.qualified", "http.request"]
    call = mine[0]
    assert (call["provider"], call["status"], call["http_status"]) == ("cerebras", "ok", 200)
    assert call["input_tokens"] > 0
    assert call["latency_ms"] > 0
    dump = json.dumps(mine)
    assert "csk-never-logged-123" not in dump
    assert "Zelda" not in dump
