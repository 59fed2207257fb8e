"""`POST /api/outcomes` over real HTTP, on SQLite and the machine's PostgreSQL: outcomes
named by the CRM's id or email and its stage names, one answer per item, and the outcomes
read back on the lead and in the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_leads_llm import LEAD

LEADS = [
    {**LEAD, "lead_id": "CRM-1", "lead_name": "Ann"},
    {**LEAD, "lead_id": "CRM-2", "lead_name": "Bo", "email": "bo@acme.example"},
    {**LEAD, "lead_id": "CRM-3", "lead_name": "Cy"},
    {**LEAD, "lead_id": "CRM-4", "lead_name": "Di"},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, live_app: Any, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return live_app(provider="rules", data_dir=tmp_path)
    return live_app(provider="rules", database_url=request.getfixturevalue("pg_fresh"))


def test_outcomes_in_the_crms_words_one_answer_per_item(app: Any) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    today = datetime.now(UTC).date().isoformat()
    with app.client() as api:
        stored = api.post("/api/leads/qualify-batch", json=LEADS).json()["data"]
        refs = {r["lead_id"]: r["lead_ref"] for r in stored}
        answer = api.post(
            "/api/outcomes",
            json=[
                {"lead_id": "CRM-1", "outcome": "Closed Won", "date": "2026-11-20"},
                {"email": "BO@acme.example", "outcome": "Closed Lost"},
                {"lead_id": "CRM-3", "outcome": "Contract Sent"},
                {"lead_id": "CRM-404", "outcome": "Won"},
                {"lead_ref": refs["CRM-3"], "outcome": "won", "date": future},
                {"lead_ref": refs["CRM-3"], "outcome": "no-show"},
            ],
        )
        ann = api.get(f"/api/leads/{refs['CRM-1']}").json()["data"]
        won = api.get("/api/leads", params={"outcome": "won"}).json()
        lost = api.get("/api/leads", params={"outcome": "lost"}).json()
        none = api.get("/api/leads", params={"outcome": "none"}).json()
        everyone = api.get("/api/leads", params={"sort": "name"}).json()["data"]

    assert answer.status_code == 200
    body = answer.json()
    assert (body["count"], body["recorded"], body["failed"]) == (6, 3, 3)
    items = body["data"]
    assert [i["index"] for i in items] == [0, 1, 2, 3, 4, 5]
    assert [i["status"] for i in items] == [
        "recorded",
        "recorded",
        "error",
        "error",
        "error",
        "recorded",
    ]
    first, second, _, _, _, sixth = (i.get("data") for i in items)
    assert (first["lead_ref"], first["outcome"], first["date"]) == (
        refs["CRM-1"],
        "won",
        "2026-11-20",
    )
    assert first["recommended_action"] == stored[0]["recommended_action"]
    assert (second["lead_ref"], second["outcome"], second["date"]) == (refs["CRM-2"], "lost", today)
    assert (sixth["lead_ref"], sixth["outcome"]) == (refs["CRM-3"], "no_response")
    unknown_stage, unknown_lead, future_date = (i["error"] for i in items[2:5])
    assert unknown_stage["code"] == "invalid_input"
    assert unknown_stage["fields"][0]["field"] == "outcome"
    assert "'Contract Sent'" in unknown_stage["message"]
    assert "won, lost, no_response, disqualified" in unknown_stage["message"]
    assert "Closed Won" in unknown_stage["message"]  # the accepted stage names
    assert unknown_lead["code"] == "not_found"
    assert "lead_id 'CRM-404'" in unknown_lead["message"]
    assert future_date["code"] == "invalid_input"
    assert future_date["fields"][0]["field"] == "date"
    assert "future" in future_date["message"]

    # Read back: on the lead, and in the list with its filter.
    assert ann["latest_outcome"] == {"outcome": "won", "date": "2026-11-20"}
    assert [(o["outcome"], o["date"]) for o in ann["outcomes"]] == [("won", "2026-11-20")]
    assert ann["outcomes"][0]["qualification_id"] == ann["latest_qualification_id"]
    assert [x["lead_id"] for x in won["data"]] == ["CRM-1"]
    assert won["total"] == 1
    assert won["data"][0]["latest_outcome"] == {"outcome": "won", "date": "2026-11-20"}
    assert [x["lead_id"] for x in lost["data"]] == ["CRM-2"]
    assert [x["lead_id"] for x in none["data"]] == ["CRM-4"]
    assert none["data"][0]["latest_outcome"] is None
    assert {x["lead_id"]: (x["latest_outcome"] or {}).get("outcome") for x in everyone} == {
        "CRM-1": "won",
        "CRM-2": "lost",
        "CRM-3": "no_response",
        "CRM-4": None,
    }


def test_a_later_outcome_supersedes_and_one_object_is_a_batch_of_one(app: Any) -> None:
    with app.client() as api:
        (stored,) = api.post("/api/leads/qualify-batch", json=LEADS[:1]).json()["data"]
        ref = stored["lead_ref"]
        api.post("/api/outcomes", json={"lead_id": "CRM-1", "outcome": "No Response"})
        single = api.post(
            "/api/outcomes",
            json={"lead_id": "CRM-1", "outcome": "closed_won", "date": "2026-12-01"},
        )
        lead = api.get(f"/api/leads/{ref}").json()["data"]
        no_response = api.get("/api/leads", params={"outcome": "no_response"}).json()
    assert single.status_code == 200
    assert single.json()["count"] == 1
    assert single.json()["data"][0]["data"]["outcome"] == "won"
    assert lead["latest_outcome"] == {"outcome": "won", "date": "2026-12-01"}
    assert [o["outcome"] for o in lead["outcomes"]] == ["won", "no_response"]  # latest first
    assert no_response["total"] == 0  # superseded


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("Closed Won", "body"),
        ([{"lead_id": "CRM-1"}], "outcome"),
        ([{"outcome": "won"}], "needs lead_id, email or lead_ref"),
        ([{"lead_id": "CRM-1", "outcome": "won", "date": "20/11/2026"}], "date"),
    ],
)
def test_a_malformed_body_is_422_and_records_nothing(app: Any, body: Any, field: str) -> None:
    with app.client() as api:
        api.post("/api/leads/qualify-batch", json=LEADS[:1])
        answer = api.post("/api/outcomes", json=body)
        listed = api.get("/api/leads", params={"outcome": "none"}).json()
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_input"
    assert field in answer.json()["error"]["message"]
    assert listed["total"] == 1


def test_the_lead_route_takes_stage_names_and_the_setting_adds_some(
    live_app: Any, tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path, outcome_stages="Signed=won")
    with app.client() as api:
        (stored,) = api.post("/api/leads/qualify-batch", json=LEADS[:1]).json()["data"]
        ref = stored["lead_ref"]
        lost = api.post(f"/api/leads/{ref}/outcome", json={"outcome": "Closed-Lost"})
        maybe = api.post(f"/api/leads/{ref}/outcome", json={"outcome": "maybe"})
        signed = api.post("/api/outcomes", json=[{"lead_id": "CRM-1", "outcome": "SIGNED"}])
    assert lost.status_code == 200
    assert lost.json()["data"]["outcome"] == "lost"
    assert maybe.status_code == 422
    assert maybe.json()["error"]["fields"][0]["field"] == "outcome"
    assert "Closed Won" in maybe.json()["error"]["message"]
    assert signed.json()["data"][0]["data"]["outcome"] == "won"
