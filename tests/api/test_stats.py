"""`GET /api/stats` over real HTTP, from what the qualify routes stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.test_leads_llm import LEAD
from tests.api.test_metrics import sample, scrape
from tests.support.llm import GOOD, answer
from tests.support.openai_server import Reply


def test_stats_over_a_period_per_provider(live_app, openai_server) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    openai_server.queue(Reply(status=503, content="busy"))
    openai_server.handler = lambda body: answer(body, usage=usage)
    llm = live_app(
        provider="cerebras",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-test",
        max_retries=1,
        retry_base_delay=0.01,
    )
    rules = live_app(provider="rules")  # the same database (data/leadq.db in the test's dir)
    with llm.client() as api:
        assert api.post("/api/leads/qualify", json=LEAD).status_code == 200
    with rules.client() as api:
        api.post("/api/leads/qualify-batch", json=[LEAD, {**LEAD, "lead_name": "B"}])
        body = api.get("/api/stats").json()
        later = datetime.now(UTC) + timedelta(hours=1)
        window = {"since": later.isoformat(), "until": (later + timedelta(hours=1)).isoformat()}
        empty = api.get("/api/stats", params=window)
        bad = api.get("/api/stats", params={"since": "2026-01-02", "until": "2026-01-01"})
        not_a_date = api.get("/api/stats", params={"since": "yesterday"})
        year_0 = api.get("/api/stats", params={"since": "0001-01-01T00:00:00+05:00"})
        everything = api.get("/api/stats", params={"since": "0001-01-01", "until": "9999-12-31"})
    assert body["status"] == "success"
    data = body["data"]
    total = data["totals"]
    assert total["leads"] == 3
    assert total["calls"] == 2
    assert total["failed_calls"] == 1
    assert total["error_rate"] == 0.5
    assert total["input_tokens"] == 1000
    assert total["output_tokens"] == 500
    assert abs(total["cost_usd"] - (1000 * 0.35 + 500 * 0.75) / 1e6) < 1e-9
    assert sum(total["actions"].values()) == 3
    assert total["latency_ms"]["p50"] is not None
    assert total["latency_ms"]["p95"] is not None
    by = {g["provider"]: g for g in data["by_provider"]}
    assert set(by) == {"cerebras", "rules"}
    assert by["cerebras"]["leads"] == 1
    assert by["cerebras"]["model"] == "gpt-oss-120b"
    assert by["cerebras"]["latency_ms"]["p95"] >= by["cerebras"]["call_latency_ms"]["p50"]
    assert by["rules"]["leads"] == 2
    assert by["rules"]["calls"] == 0
    assert by["rules"]["error_rate"] is None
    # Default window: the last 24 hours, ending now.
    since = datetime.fromisoformat(data["since"])
    until = datetime.fromisoformat(data["until"])
    assert timedelta(hours=23, minutes=59) < until - since <= timedelta(hours=24)
    assert empty.json()["data"]["totals"]["leads"] == 0
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "query.since"
    assert not_a_date.status_code == 422
    assert year_0.status_code == 422
    assert "out of range" in year_0.json()["error"]["message"]
    assert everything.json()["data"]["totals"]["leads"] == 3


HOT = {
    **LEAD,
    "engagement_history": "Requested a demo, visited pricing 3x",
    "additional_context": "Series B, evaluating vendors this quarter",
}
COLD = {"lead_name": "C", "company_name": "Tiny", "industry": "Restaurant", "job_title": "Intern"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_conversion_by_action_from_outcomes_in_the_crms_words(
    live_app, request: pytest.FixtureRequest, backend: str
) -> None:
    leads = [
        *({**HOT, "lead_id": f"H-{i}", "lead_name": f"Hot {i}"} for i in range(1, 4)),
        *({**LEAD, "lead_id": f"N-{i}", "lead_name": f"Warm {i}"} for i in range(1, 5)),
        {**COLD, "lead_id": "X-1", "company_size": "2"},
    ]
    outcomes = [
        {"lead_id": "H-1", "outcome": "Closed Won"},
        {"lead_id": "H-2", "outcome": "closed-won"},
        {"lead_id": "H-3", "outcome": "Closed Won"},
        {"lead_id": "H-3", "outcome": "Closed Lost"},  # supersedes the one before
        {"lead_id": "N-1", "outcome": "Closed Lost"},
        {"lead_id": "N-2", "outcome": "No Show"},
        {"lead_id": "N-3", "outcome": "Closed Won", "date": "2026-01-05"},  # another period
        {"lead_id": "X-1", "outcome": "Unqualified"},
    ]
    db = {"database_url": request.getfixturevalue("pg_fresh")} if backend == "postgresql" else {}
    with live_app(provider="rules", **db).client() as api:
        stored = api.post("/api/leads/qualify-batch", json=leads).json()["data"]
        recorded = api.post("/api/outcomes", json=outcomes).json()
        day = api.get("/api/stats").json()["data"]
        year = api.get("/api/stats", params={"since": "2026-01-01"}).json()["data"]
        january = api.get("/api/stats", params={"since": "2026-01-05", "until": "2026-01-06"})
    actions = {r["lead_id"]: r["recommended_action"] for r in stored}
    assert {actions[f"H-{i}"] for i in range(1, 4)} == {"immediate_outreach"}
    assert {actions[f"N-{i}"] for i in range(1, 5)} == {"qualified_nurture"}
    assert actions["X-1"] == "not_qualified"
    assert recorded["recorded"] == len(outcomes)

    by = {c["action"]: c for c in day["conversion_by_action"]}
    assert list(by) == ["immediate_outreach", "not_qualified", "qualified_nurture"]
    assert by["immediate_outreach"] == {
        "action": "immediate_outreach",
        "count": 3,
        "won": 2,
        "lost": 1,
        "other": 0,
        "conversion_rate": round(2 / 3, 6),
    }
    assert (by["qualified_nurture"]["count"], by["qualified_nurture"]["won"]) == (2, 0)
    assert (by["qualified_nurture"]["lost"], by["qualified_nurture"]["other"]) == (1, 1)
    assert by["qualified_nurture"]["conversion_rate"] == 0.0
    assert (by["not_qualified"]["other"], by["not_qualified"]["conversion_rate"]) == (1, None)
    # The outcome dated in January counts in a period that holds that day.
    in_year = {c["action"]: c for c in year["conversion_by_action"]}
    assert (in_year["qualified_nurture"]["count"], in_year["qualified_nurture"]["won"]) == (3, 1)
    assert in_year["qualified_nurture"]["conversion_rate"] == 0.5
    assert january.json()["data"]["conversion_by_action"] == [
        {
            "action": "qualified_nurture",
            "count": 1,
            "won": 1,
            "lost": 0,
            "other": 0,
            "conversion_rate": 1.0,
        }
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_routing_hot_leads_to_another_model_shows_per_route_in_stats_and_metrics(
    live_app, openai_server, other_server, tmp_path, request: pytest.FixtureRequest, backend: str
) -> None:
    # Cold leads to openai:test-model (one server), leads the rules engine rates 0.6 and up
    # to cerebras:big-model (another server), each priced.
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    openai_server.handler = lambda body: answer(body, usage=usage)
    big = {**GOOD, "fit_score": 0.95}
    other_server.handler = lambda body: answer(body, big, usage=usage, chunk_chars=40)
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '["openai/test-model"]\ninput = 1.0\noutput = 2.0\n'
        '["cerebras/big-model"]\ninput = 10.0\noutput = 20.0\n'
    )
    app = live_app(
        provider="openai",
        openai_base_url=openai_server.url,
        openai_api_key="sk-test",
        model="test-model",
        route_above=0.6,
        route_to="cerebras:big-model",
        cerebras_base_url=other_server.url,
        cerebras_api_key="csk-test",
        prices_file=prices,
        max_retries=0,
        **(
            {"database_url": request.getfixturevalue("pg_fresh")} if backend == "postgresql" else {}
        ),
    )
    with app.client() as api:
        before = scrape(api)
        hot = api.post("/api/leads/qualify", json=HOT).json()["data"]
        cold = api.post("/api/leads/qualify", json=COLD).json()["data"]
        batch = api.post(
            "/api/leads/qualify-batch",
            json=[{**HOT, "lead_name": "Hot 2"}, {**COLD, "lead_name": "Cold 2"}],
        ).json()["data"]
        with api.stream("POST", "/api/leads/qualify-stream", json={**HOT, "lead_name": "H3"}) as r:
            streamed = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
        stats = api.get("/api/stats").json()["data"]
        after = scrape(api)
        health = api.get("/api/leads/health").json()

    for result in (hot, batch[0], streamed[-1]):
        assert (result["provider"], result["model"], result["fit_score"]) == (
            "cerebras",
            "big-model",
            0.95,
        )
        assert "routed" in result["flags"]
    for result in (cold, batch[1]):
        assert (result["provider"], result["model"]) == ("openai", "test-model")
        assert "routed" not in result["flags"]
    assert len(other_server.requests) == 3
    assert len(openai_server.requests) == 2

    routes = {(r["route"], r["provider"], r["model"]): r for r in stats["by_route"]}
    assert set(routes) == {("routed", "cerebras", "big-model"), ("default", "openai", "test-model")}
    routed, default = (
        routes[("routed", "cerebras", "big-model")],
        routes[("default", "openai", "test-model")],
    )
    assert (routed["leads"], default["leads"]) == (3, 2)
    assert abs(routed["cost_usd"] - 3 * (1000 * 10.0 + 500 * 20.0) / 1e6) < 1e-9
    assert abs(default["cost_usd"] - 2 * (1000 * 1.0 + 500 * 2.0) / 1e6) < 1e-9
    assert routed["latency_ms"]["p50"] is not None
    assert default["latency_ms"]["p95"] is not None

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    big_labels = {"route": "routed", "provider": "cerebras", "model": "big-model"}
    test_labels = {"route": "default", "provider": "openai", "model": "test-model"}
    assert delta("leadq_route_leads_total", **big_labels) == 3
    assert delta("leadq_route_leads_total", **test_labels) == 2
    assert delta("leadq_route_lead_seconds_count", **big_labels) == 3
    assert abs(delta("leadq_route_cost_usd_total", **big_labels) - 0.06) < 1e-9
    assert abs(delta("leadq_route_cost_usd_total", **test_labels) - 0.004) < 1e-9
    assert health["backend"]["routing"] == {"above": 0.6, "to": "cerebras:big-model"}
