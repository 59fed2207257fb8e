"""What the database cannot hold is refused before it gets there, on SQLite and on the
machine's real PostgreSQL: ids up to 2^63-1 (64-bit columns), and NUL in a search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.test_leads_llm import LEAD


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, live_app: Any, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        return live_app(provider="rules", data_dir=tmp_path)
    return live_app(provider="rules", database_url=request.getfixturevalue("pg_fresh"))


@pytest.mark.parametrize("big", [2**31, 2**63 - 1])
def test_ids_past_32_bits_are_a_404_not_a_500(app: Any, big: int) -> None:
    with app.client() as api:
        assert api.get(f"/api/leads/{big}").status_code == 404
        assert api.get(f"/api/qualifications/{big}").status_code == 404
        assert api.delete(f"/api/leads/{big}").status_code == 404
        answer = api.post(f"/api/leads/{big}/outcome", json={"outcome": "won"})
        assert answer.status_code == 404


def test_a_stored_row_with_a_64_bit_id_reads_back(app: Any) -> None:
    """The tables do not run out at 2^31: the next lead after a 2^40 id is stored."""
    store = app.app.state.store
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO leads (id, lead_key, lead_name, company_name, "
                "qualification_count, created_at, updated_at) "
                "VALUES (:id, 'id:big', 'Big Id', 'Acme', 0, '2026-12-01', '2026-12-01')"
            ),
            {"id": 2**40},
        )
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('leads_id_seq', :id)"), {"id": 2**40})
    with app.client() as api:
        assert api.get(f"/api/leads/{2**40}").json()["data"]["lead_name"] == "Big Id"
        stored = api.post("/api/leads/qualify", json={**LEAD, "lead_id": "after-big"}).json()
    assert stored["data"]["lead_ref"] > 2**40


@pytest.mark.parametrize("q", ["\x00", "a\x00b"])
def test_a_nul_in_a_search_is_refused_as_invalid(app: Any, q: str) -> None:
    with app.client() as api:
        answer = api.get("/api/leads", params={"q": q})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_input"
