"""The HTTP API over the rules engine (no LLM): envelopes, limits, auth, errors."""

from __future__ import annotations

import pytest

from tests.api.conftest import data_lines, sse_events

SEED_CURL_LEAD = {
    "lead_name": "John Doe",
    "company_name": "Acme Corp",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$10M",
    "engagement_history": "Visited pricing 3x",
}


@pytest.fixture
def api(live_app):
    app = live_app()
    with app.client() as client:
        yield client


def test_seed_curl_example(api) -> None:
    body = api.post("/api/leads/qualify", json=SEED_CURL_LEAD).json()
    assert body["status"] == "success"
    data = body["data"]
    assert 0 <= data["overall_score"] <= 1
    assert data["provider"] == "rules"
    assert data["recommended_action"] == "manual_review"  # no job title: critical info missing
    assert "missing_critical_info" in data["flags"]


def test_batch_keeps_order_and_bad_leads_get_errors_in_place(api) -> None:
    leads = [SEED_CURL_LEAD, {"company_name": "No Name Inc"}, {**SEED_CURL_LEAD, "lead_id": "x3"}]
    body = api.post("/api/leads/qualify-batch", json=leads).json()
    assert (body["status"], body["count"], body["succeeded"], body["failed"]) == (
        "success",
        3,
        2,
        1,
    )
    assert body["data"][1] == {
        "index": 1,
        "error": {
            "error": "invalid_input",
            "message": "invalid lead: lead_name: required, but missing or blank",
            "retryable": False,
            "field": "lead_name",
            "provider": None,
            "lead_id": None,
        },
    }
    assert body["data"][2]["lead_id"] == "x3"


def test_invalid_lead_is_422_naming_fields(api) -> None:
    r = api.post("/api/leads/qualify", json={"company_name": "B", "email": "nope"})
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["error"]["fields"]}
    assert fields == {"lead_name", "email"}


def test_malformed_json_is_422(api) -> None:
    r = api.post(
        "/api/leads/qualify", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"


def test_body_over_limit_is_413(live_app) -> None:
    with live_app(max_body_bytes=2048).client() as api:
        big = {**SEED_CURL_LEAD, "additional_context": "x" * 3000}
        r = api.post("/api/leads/qualify", json=big)
    assert r.status_code == 413
    assert "LEADQ_MAX_BODY_BYTES" in r.json()["error"]["message"]


def test_batch_over_limit_is_413_with_the_limit(live_app) -> None:
    with live_app(max_batch=2).client() as api:
        r = api.post("/api/leads/qualify-batch", json=[SEED_CURL_LEAD] * 3)
        r2 = api.post("/api/leads/qualify-as-completed", json=[SEED_CURL_LEAD] * 3)
    assert r.status_code == 413
    assert "limit of 2" in r.json()["error"]["message"]
    assert r2.status_code == 413


def test_api_keys_required_when_set_except_health(live_app) -> None:
    with live_app(api_keys="k1, k2").client() as api:
        assert api.post("/api/leads/qualify", json=SEED_CURL_LEAD).status_code == 401
        wrong = api.post("/api/leads/qualify", json=SEED_CURL_LEAD, headers={"X-API-Key": "k3"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "unauthorized"
        ok = api.post("/api/leads/qualify", json=SEED_CURL_LEAD, headers={"X-API-Key": "k2"})
        assert ok.status_code == 200
        assert api.get("/api/leads/health").status_code == 200


def test_stream_on_rules_is_one_result_event(api) -> None:
    with api.stream("POST", "/api/leads/qualify-stream", json=SEED_CURL_LEAD) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(r))
    assert [e.name for e in events] == ["result"]
    assert events[0].data["provider"] == "rules"
    assert 0 <= events[0].data["overall_score"] <= 1


def test_as_completed_reports_every_lead_once_and_nothing_else(api) -> None:
    leads = [SEED_CURL_LEAD, {"lead_name": "x"}, SEED_CURL_LEAD]
    with api.stream("POST", "/api/leads/qualify-as-completed", json=leads) as r:
        events = list(sse_events(r))
    assert [e.name for e in events] == ["item"] * 3
    items = {e.data["index"]: e.data for e in events}
    assert sorted(items) == [0, 1, 2]
    assert items[1]["error"]["field"] == "company_name"
    assert items[0]["result"]["provider"] == "rules"


def test_seed_clients_read_every_data_line_of_both_streams(api) -> None:
    # The original design's clients: each `data:` line is JSON; qualify-stream's last one is
    # the result, and each of qualify-as-completed's has `index` and `result`.
    with api.stream("POST", "/api/leads/qualify-stream", json=SEED_CURL_LEAD) as r:
        chunks = data_lines(r)
    assert chunks[-1]["recommended_action"] == "manual_review"
    assert 0 <= chunks[-1]["overall_score"] <= 1
    leads = [{**SEED_CURL_LEAD, "lead_name": f"Lead {i}"} for i in range(3)]
    with api.stream("POST", "/api/leads/qualify-as-completed", json=leads) as r:
        lines = data_lines(r)
    results = {line["index"]: line["result"] for line in lines}
    assert sorted(results) == [0, 1, 2]
    assert all("overall_score" in result for result in results.values())


def test_as_completed_gives_every_unreported_lead_an_error_when_the_stream_fails(
    live_app, monkeypatch
) -> None:
    app = live_app()

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(app.app.state.store, "save", broken)
    leads = [{**SEED_CURL_LEAD, "lead_id": f"B-{i}"} for i in range(3)]
    with (
        app.client() as api,
        api.stream("POST", "/api/leads/qualify-as-completed", json=leads) as r,
    ):
        events = list(sse_events(r))
    items = {e.data["index"]: e.data for e in events}
    assert sorted(items) == [0, 1, 2]
    assert {i["error"]["error"] for i in items.values()} == {"internal_error"}
    assert [items[i]["error"]["lead_id"] for i in range(3)] == ["B-0", "B-1", "B-2"]
    assert "secret" not in str(items)


def test_health(api) -> None:
    body = api.get("/api/leads/health").json()
    assert body["status"] == "healthy"
    assert body["provider"] == "rules"
    assert body["configured"]


def test_misconfigured_provider_is_503_with_what_to_set(live_app) -> None:
    with live_app(provider="cerebras").client() as api:
        health = api.get("/api/leads/health").json()
        r = api.post("/api/leads/qualify", json=SEED_CURL_LEAD)
    assert health["status"] == "degraded"
    assert not health["configured"]
    assert r.status_code == 503
    assert "CEREBRAS_API_KEY" in r.json()["error"]["message"]


def test_unknown_route_is_json_404(api) -> None:
    r = api.get("/api/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_openapi_documents_schemas_errors_and_examples(api) -> None:
    doc = api.get("/openapi.json").json()
    qualify = doc["paths"]["/api/leads/qualify"]["post"]
    assert {"200", "401", "413", "422", "502", "503", "504"} <= set(qualify["responses"])
    batch = doc["paths"]["/api/leads/qualify-batch"]["post"]["requestBody"]
    items = batch["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/LeadInput"}
    assert "example" in doc["components"]["schemas"]["LeadInput"]
    stream = doc["paths"]["/api/leads/qualify-stream"]["post"]["responses"]["200"]
    assert "text/event-stream" in stream["content"]
    assert all(f"`{kind}`" in stream["description"] for kind in ("partial", "result", "error"))
    assert "event: result" in stream["content"]["text/event-stream"]["example"]
    completed = doc["paths"]["/api/leads/qualify-as-completed"]["post"]["responses"]["200"]
    assert "`item`" in completed["description"]
    assert "`done`" not in stream["description"] + completed["description"]


def test_unexpected_failure_is_a_json_500_without_internals(live_app, monkeypatch) -> None:
    app = live_app()

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(app.app.state.store, "save", broken)
    with app.client() as api:
        r = api.post("/api/leads/qualify", json=SEED_CURL_LEAD)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "secret" not in r.text
    assert "Traceback" not in r.text
