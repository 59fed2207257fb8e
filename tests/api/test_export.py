"""`GET /api/leads/export.csv` over real HTTP, on SQLite and the machine's PostgreSQL: every
stored lead's latest result with its CRM id, email, latest outcome and attributes, in
`leadq export`'s columns, a file Excel opens as UTF-8 and cannot run, streamed a piece at a
time."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from leadq.api.routes import records
from leadq.leadfiles import EXPORT_COLUMNS, safe_cell
from tests.api.test_leads_llm import LEAD

KEY = {"X-API-Key": "k-1"}


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, live_app: Any, tmp_path: Path) -> Any:
    settings: dict[str, Any] = {"provider": "rules", "api_keys": "k-1"}
    if request.param == "sqlite":
        return live_app(**settings, data_dir=tmp_path)
    return live_app(**settings, database_url=request.getfixturevalue("pg_fresh"))


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_export_is_every_lead_with_its_crm_id_email_and_latest_outcome(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "EXPORT_CHUNK", 2)  # five leads: three pieces
    leads: list[dict[str, Any]] = [
        {**LEAD, "lead_id": f"CRM-{i}", "lead_name": f"Lead {i}", "email": f"l{i}@acme.example"}
        for i in range(4)
    ]
    leads[0]["attributes"] = {"Lead Source": "Webinar", "Score (HubSpot)": 72}
    leads.append({**LEAD, "lead_id": "=1+1", "lead_name": "Zoë Müller", "company_name": "@Œuvre"})
    with app.client() as api:
        assert api.get("/api/leads/export.csv").status_code == 401  # the key, as for the list
        stored = api.post("/api/leads/qualify-batch", json=leads, headers=KEY).json()["data"]
        ref = stored[1]["lead_ref"]
        api.post(f"/api/leads/{ref}/outcome", json={"outcome": "lost"}, headers=KEY)
        api.post(
            f"/api/leads/{ref}/outcome", json={"outcome": "won", "date": "2026-01-05"}, headers=KEY
        )
        got = api.get("/api/leads/export.csv", headers=KEY)
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in got.headers["content-disposition"]
    rows = read_csv(got.content)
    assert [r["lead_id"] for r in rows] == ["CRM-0", "CRM-1", "CRM-2", "CRM-3", "'=1+1"]
    assert [r["row"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert (rows[1]["outcome"], rows[1]["outcome_date"]) == ("won", "2026-01-05")
    assert rows[1]["email"] == "l1@acme.example"
    assert [r["outcome"] for r in rows].count("") == 4
    assert (rows[4]["lead_name"], rows[4]["company_name"]) == ("Zoë Müller", "'@Œuvre")
    assert json.loads(rows[0]["attributes"]) == {"Lead Source": "Webinar", "Score (HubSpot)": 72}
    assert [r["attributes"] for r in rows[1:]] == [""] * 4
    for row, result in zip(rows, stored, strict=True):
        assert float(row["overall_score"]) == result["overall_score"] <= 1  # the API's scale
        assert row["qualification_id"] == str(result["qualification_id"])
        assert all(safe_cell(cell) == cell for cell in row.values())


def test_export_of_an_empty_store_is_the_header_alone(app: Any) -> None:
    with app.client() as api:
        got = api.get("/api/leads/export.csv", headers=KEY)
    assert got.status_code == 200
    assert read_csv(got.content) == []
