"""Hostile input gets a clear 4xx (or, in the CLI, a clear exit 2 or that row's error),
never a 5xx, a traceback or a stalled server: absurd numbers, huge strings and bodies,
deeply nested JSON, over-long fields, oversized files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from leadq.core.lead import LEAD_FIELDS, LeadInput
from tests.cli.test_app import leadq, records

LEAD = {"lead_name": "Ana Lima", "company_name": "Lima Corp", "industry": "SaaS"}


@pytest.fixture
def api(live_app, tmp_path: Path):
    app = live_app(provider="rules", database_url=f"sqlite:///{tmp_path / 'api.db'}")
    with app.client() as client:
        yield client


def post(client, body: str | bytes, path: str = "/api/leads/qualify") -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json"})


def fields_of(response) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


def test_every_field_has_a_length_limit() -> None:
    for name in LEAD_FIELDS:
        limits = [
            m.max_length for m in LeadInput.model_fields[name].metadata if hasattr(m, "max_length")
        ]
        assert limits, name
        assert limits[0] <= 4000, name


NOTES = ("engagement_history", "additional_context")  # free text: cut, not refused


@pytest.mark.parametrize("field", [f for f in LEAD_FIELDS if f not in NOTES])
def test_an_over_long_field_is_422_naming_it(api, field: str) -> None:
    limit = next(
        m.max_length for m in LeadInput.model_fields[field].metadata if hasattr(m, "max_length")
    )
    value = "a" * (limit + 1) if field != "email" else "a" * limit + "@x.example"
    response = api.post("/api/leads/qualify", json={**LEAD, field: value})
    assert response.status_code == 422
    assert fields_of(response) == [field]


@pytest.mark.parametrize("field", NOTES)
def test_an_over_long_note_is_cut_to_its_limit_and_flagged(api, field: str) -> None:
    response = api.post("/api/leads/qualify", json={**LEAD, field: "a" * 10_000})
    assert response.status_code == 200, response.text
    result = response.json()["data"]
    assert "text_truncated" in result["flags"]
    stored = api.get(f"/api/qualifications/{result['qualification_id']}").json()["data"]
    assert stored["input"][field] == "a" * 3999 + "…"


@pytest.mark.parametrize(
    "number",
    ["1" + "0" * 400, "1e308", "-1e308", "1e309", "NaN", "Infinity", "-Infinity", "1e16"],
)
def test_absurd_numbers_are_422_naming_the_field(api, number: str) -> None:
    body = json.dumps(LEAD)[:-1] + f', "annual_revenue": {number}, "company_size": 250}}'
    response = post(api, body)
    assert response.status_code == 422, response.text
    assert fields_of(response) == ["annual_revenue"]
    assert "number out of range" in response.json()["error"]["message"]


def test_a_number_too_long_to_parse_is_400(api) -> None:
    response = post(api, json.dumps(LEAD)[:-1] + ', "annual_revenue": 1' + "0" * 5000 + "}")
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_reasonable_numbers_are_read_as_text(api) -> None:
    response = api.post(
        "/api/leads/qualify", json={**LEAD, "annual_revenue": 25_000_000, "company_size": 120.0}
    )
    assert response.status_code == 200
    stored = api.get(f"/api/qualifications/{response.json()['data']['qualification_id']}")
    assert stored.json()["data"]["input"]["annual_revenue"] == "25000000"


def test_a_10_mb_string_is_413_before_it_is_parsed(api) -> None:
    response = api.post("/api/leads/qualify", json={**LEAD, "additional_context": "x" * 10**7})
    assert response.status_code == 413
    assert "LEADQ_MAX_BODY_BYTES" in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/api/leads/qualify", "/api/leads/qualify-batch"])
def test_deeply_nested_json_is_4xx(api, path: str) -> None:
    depth = 100_000
    response = post(api, '{"lead_name": ' + "[" * depth + "]" * depth + "}", path)
    assert 400 <= response.status_code < 500
    response = post(api, "[" * depth + "]" * depth, path)
    assert 400 <= response.status_code < 500
    assert api.get("/api/leads/health").status_code == 200  # and the server is still there


def test_invalid_unicode_is_422(api) -> None:
    response = post(api, '{"lead_name": "\\ud800", "company_name": "C"}')
    assert response.status_code == 422
    assert fields_of(response) == ["lead_name"]


def test_a_batch_over_the_limit_is_413(live_app, tmp_path: Path) -> None:
    app = live_app(provider="rules", max_batch=5, database_url=f"sqlite:///{tmp_path / 'batch.db'}")
    with app.client() as client:
        response = client.post("/api/leads/qualify-batch", json=[LEAD] * 6)
        assert response.status_code == 413
        assert "LEADQ_MAX_BATCH" in response.text
        body = json.dumps([LEAD, "x"])[:-1] + ', {"lead_name": 1e400, "company_name": "C"}]'
        mixed = post(client, body, "/api/leads/qualify-batch")
    assert mixed.status_code == 200
    assert [d.get("error", {}).get("error") for d in mixed.json()["data"]] == [
        None,
        "invalid_input",
        "invalid_input",
    ]


# ---- the CLI ---------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["lead_name", "company_name", "additional_context"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_cli_over_long_csv_field_is_that_rows_error(tmp_path: Path) -> None:
    leads = write_csv(
        tmp_path / "leads.csv",
        [
            {"lead_name": "A", "company_name": "B", "additional_context": "x" * 300_000},
            {"lead_name": "C", "company_name": "D", "additional_context": "fine"},
        ],
    )
    proc = leadq("qualify", str(leads), "-q")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = records(proc.stdout)
    assert [r["status"] for r in rows] == ["error", "ok"]
    assert "longer than" in rows[0]["error"]["message"]


def test_cli_file_over_the_size_limit_exits_2(tmp_path: Path) -> None:
    leads = write_csv(tmp_path / "leads.csv", [{"lead_name": "A", "company_name": "B"}] * 600)
    proc = leadq("qualify", str(leads), "-q", env={"LEADQ_MAX_FILE_BYTES": "2048"})
    assert proc.returncode == 2
    assert "LEADQ_MAX_FILE_BYTES" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_cli_file_over_the_row_limit_exits_2(tmp_path: Path, suffix: str) -> None:
    lead = {"lead_name": "A", "company_name": "B"}
    if suffix == "csv":
        leads = write_csv(tmp_path / "leads.csv", [lead] * 11)
    else:
        leads = tmp_path / "leads.jsonl"
        leads.write_text("\n".join(json.dumps(lead) for _ in range(11)) + "\n")
    proc = leadq("qualify", str(leads), "-q", env={"LEADQ_MAX_ROWS": "10"})
    assert proc.returncode == 2
    assert "more than 10 rows (LEADQ_MAX_ROWS)" in proc.stderr


def test_cli_nested_or_absurd_jsonl_rows_are_their_own_errors(tmp_path: Path) -> None:
    leads = tmp_path / "leads.jsonl"
    leads.write_text(
        json.dumps({"lead_name": "A", "company_name": "B"})
        + "\n"
        + "[" * 50_000
        + "]" * 50_000
        + "\n"
        + '{"lead_name": "C", "company_name": "D", "annual_revenue": 1e999}\n'
    )
    proc = leadq("qualify", str(leads), "-q")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    rows = records(proc.stdout)
    assert [r["status"] for r in rows] == ["ok", "error", "error"]
    assert rows[2]["error"]["field"] == "annual_revenue"
