"""`GET /metrics` over real HTTP: Prometheus text that moves as leads are qualified."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from leadq.core.rules.engine import VERSION
from tests.api.test_leads_llm import LEAD
from tests.support.llm import answer


def scrape(api) -> dict[tuple[str, frozenset], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def sample(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_rules_leads_and_requests_move_the_metrics(live_app) -> None:
    with live_app(provider="rules").client() as api:
        before = scrape(api)
        api.post("/api/leads/qualify-batch", json=[LEAD, LEAD, {"company_name": "no name"}])
        api.get("/api/leads/999999")
        after = scrape(api)
        schema = api.get("/openapi.json").json()
    leads = {"provider": "rules", "model": VERSION, "prompt_version": "rules"}

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    by_action = {
        dict(lb)["action"]: v - sample(before, n, **dict(lb))
        for (n, lb), v in after.items()
        if n == "leadq_leads_total" and leads.items() <= dict(lb).items()
    }
    moved = {action: n for action, n in by_action.items() if n}
    assert list(moved.values()) == [2]  # the same lead twice: one action
    assert delta("leadq_lead_failures_total", provider="", code="invalid_input") == 1
    assert delta("leadq_lead_seconds_count", provider="rules", model=VERSION) == 2
    assert (
        delta(
            "leadq_http_requests_total",
            method="POST",
            route="/api/leads/qualify-batch",
            status="200",
        )
        == 1
    )
    assert (
        delta(
            "leadq_http_requests_total", method="GET", route="/api/leads/{lead_ref}", status="404"
        )
        == 1
    )
    assert "/metrics" not in schema["paths"]
    assert sample(after, "process_resident_memory_bytes") > 0


def test_llm_calls_move_calls_tokens_and_cost(live_app, openai_server) -> None:
    usage = {"prompt_tokens": 2000, "completion_tokens": 1000, "total_tokens": 3000}
    openai_server.handler = lambda body: answer(body, usage=usage)
    app = live_app(
        provider="cerebras",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-test",
        max_retries=0,
    )
    labels = {"provider": "cerebras", "model": "gpt-oss-120b"}
    with app.client() as api:
        before = scrape(api)
        assert api.post("/api/leads/qualify", json=LEAD).status_code == 200
        after = scrape(api)

    def delta(name: str, **extra: str) -> float:
        return sample(after, name, **labels, **extra) - sample(before, name, **labels, **extra)

    assert delta("leadq_provider_calls_total", status="ok") == 1
    assert delta("leadq_tokens_total", direction="input") == 2000
    assert delta("leadq_tokens_total", direction="output") == 1000
    assert abs(delta("leadq_cost_usd_total") - (2000 * 0.35 + 1000 * 0.75) / 1e6) < 1e-12
    assert delta("leadq_provider_call_seconds_count") == 1
    assert delta("leadq_leads_total", prompt_version="v3", action="immediate_outreach") == 1


def test_metrics_are_public_by_default_and_can_require_a_key(live_app) -> None:
    with live_app(provider="rules", api_keys="k-000001").client() as api:
        assert api.get("/metrics").status_code == 200
        assert api.get("/api/stats").status_code == 401
    with live_app(provider="rules", api_keys="k-000001", metrics_public=False).client() as api:
        assert api.get("/metrics").status_code == 401
        assert api.get("/metrics", headers={"X-API-Key": "k-000001"}).status_code == 200
