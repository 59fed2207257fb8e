"""Stored leads over HTTP: ids in qualify responses, listing, history, erasure; both
databases."""

from __future__ import annotations

import pytest

from tests.support.openai_server import Reply

LEAD = {
    "lead_id": "CRM-1",
    "lead_name": "Ann Lee",
    "company_name": "Acme",
    "industry": "SaaS",
    "job_title": "VP Sales",
    "company_size": "200",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, live_app):
    settings = {}
    if request.param == "postgresql":
        settings["database_url"] = request.getfixturevalue("pg_fresh")
    with live_app(**settings).client() as client:
        yield client


def test_qualify_stores_and_history_grows(api) -> None:
    first = api.post("/api/leads/qualify", json=LEAD).json()["data"]
    second = api.post(
        "/api/leads/qualify", json={**LEAD, "engagement_history": "Requested a demo"}
    ).json()["data"]
    assert first["lead_ref"] == second["lead_ref"]
    assert first["qualification_id"] != second["qualification_id"]
    lead = api.get(f"/api/leads/{first['lead_ref']}").json()["data"]
    assert [h["qualification_id"] for h in lead["history"]] == [
        first["qualification_id"],
        second["qualification_id"],
    ]
    assert lead["latest_score"] == second["overall_score"]
    one = api.get(f"/api/qualifications/{first['qualification_id']}").json()["data"]
    assert one["overall_score"] == first["overall_score"]
    assert one["input"]["lead_id"] == "CRM-1"


def test_batch_and_stream_results_are_stored(api) -> None:
    batch = api.post(
        "/api/leads/qualify-batch", json=[LEAD, {**LEAD, "lead_id": "CRM-2"}, {"lead_name": "x"}]
    ).json()
    assert [d.get("qualification_id") for d in batch["data"][:2]] != [None, None]
    with api.stream("POST", "/api/leads/qualify-stream", json={**LEAD, "lead_id": "CRM-3"}) as r:
        body = "".join(r.iter_text())
    assert '"qualification_id":' in body
    listing = api.get("/api/leads").json()
    assert listing["total"] == 3
    assert {d["lead_id"] for d in listing["data"]} == {"CRM-1", "CRM-2", "CRM-3"}


def test_list_filters(api) -> None:
    for i, title in enumerate(["CEO", "Intern", "Manager"]):
        api.post("/api/leads/qualify", json={**LEAD, "lead_id": f"F-{i}", "job_title": title})
    data = api.get("/api/leads", params={"sort": "-score"}).json()["data"]
    scores = [d["latest_score"] for d in data]
    assert scores == sorted(scores, reverse=True)
    top = api.get("/api/leads", params={"min_score": scores[0]}).json()
    assert top["total"] == 1
    assert top["data"][0]["lead_id"] == "F-0"
    page = api.get("/api/leads", params={"limit": 1, "offset": 1, "sort": "name"}).json()
    assert page["total"] == 3
    assert len(page["data"]) == 1
    action = data[0]["latest_action"]
    same = api.get("/api/leads", params={"action": action}).json()["data"]
    assert same
    assert all(d["latest_action"] == action for d in same)
    assert api.get("/api/leads", params={"action": "call_now"}).status_code == 422


def test_erase_removes_the_lead_everywhere(api) -> None:
    res = api.post("/api/leads/qualify", json=LEAD).json()["data"]
    ref, qid = res["lead_ref"], res["qualification_id"]
    assert api.delete(f"/api/leads/{ref}").json() == {
        "status": "success",
        "erased": ref,
        "cache": "cleared",
    }
    assert api.get(f"/api/leads/{ref}").status_code == 404
    assert api.get(f"/api/qualifications/{qid}").status_code == 404
    assert api.delete(f"/api/leads/{ref}").status_code == 404
    assert api.get("/api/leads").json()["total"] == 0


def test_health_reports_the_database(api) -> None:
    db = api.get("/api/leads/health").json()["database"]
    assert db["ok"] is True
    assert db["backend"] in ("sqlite", "postgresql")


def test_failed_provider_calls_are_logged(live_app, openai_server) -> None:
    from sqlalchemy import select

    from leadq.storage.models import ProviderCall

    openai_server.handler = lambda body: Reply(status=500, body={"message": "boom"})
    app = live_app(
        provider="openai",
        openai_base_url=openai_server.url,
        openai_api_key="k",
        model="gpt-4o-mini",
        max_retries=1,
        retry_base_delay=0.01,
    )
    with app.client() as api:
        assert api.post("/api/leads/qualify", json=LEAD).status_code == 503
    with app.app.state.store.session() as s:
        calls = s.scalars(select(ProviderCall)).all()
    assert [(c.status, c.http_status, c.provider) for c in calls] == [
        ("provider_unavailable", 500, "openai")
    ] * 2


def test_a_search_for_a_like_wildcard_finds_only_that_character(api) -> None:
    """`%` and `_` are searched as themselves, not as patterns; so are `/` and `\\`, the
    escape characters of SQLAlchemy's `autoescape` and of PostgreSQL's LIKE."""
    specials = ["%", "_", "/", "\\"]
    companies = ["Acme", "Globex", *(f"Acme{c}Labs" for c in specials)]
    for i, company in enumerate(companies):
        api.post("/api/leads/qualify", json={**LEAD, "lead_id": f"W-{i}", "company_name": company})
    for c in specials:
        found = api.get("/api/leads", params={"q": c}).json()
        assert [d["company_name"] for d in found["data"]] == [f"Acme{c}Labs"], c
        assert api.get("/api/leads", params={"q": f"E{c}L"}).json()["total"] == 1, c
