"""The seller profile over real HTTP against the scripted provider: the offer goes into the
instructions (never the lead's data block), each result records the profile's version, a
changed profile is never answered from results cached under the old one, and
`GET /api/profile` shows the profile in force."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from leadq.config import Settings
from leadq.core.profile import default_profile
from tests.api.test_leads_llm import LEAD

PUMPS = "Industrial metering pumps for water treatment plants."
VALVES = "Corrosion-proof valves for chemical plants."


def _profile(path: Path, description: str) -> Path:
    path.write_text(
        'target_industries = ["water treatment"]\n\n'
        "[offer]\n"
        f'description = "{description}"\n'
        'ideal_customer = "Plant managers at municipal utilities."\n'
        'disqualifiers = ["no plant of its own"]\n',
        encoding="utf-8",
    )
    return path


def _qualify(app, lead=LEAD) -> dict:
    with app.client() as api:
        r = api.post("/api/leads/qualify", json=lead)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_the_offer_is_in_the_instructions_and_not_in_the_lead_data(
    llm_app, openai_server, tmp_path
) -> None:
    icp = _profile(tmp_path / "icp.toml", PUMPS)
    result = _qualify(llm_app(icp_file=icp))
    (body,) = openai_server.requests
    system, user = body["messages"][0], body["messages"][1]
    assert system["role"] == "system"
    assert PUMPS in system["content"]
    assert "Disqualifiers: no plant of its own" in system["content"]
    assert "<lead_data>" in user["content"]
    assert PUMPS not in user["content"]
    assert result["profile_version"] == Settings(icp_file=icp).profile.version


def test_a_changed_profile_qualifies_the_same_lead_afresh(llm_app, openai_server, tmp_path) -> None:
    icp = _profile(tmp_path / "icp.toml", PUMPS)
    first = _qualify(llm_app(icp_file=icp))
    assert _qualify(llm_app(icp_file=icp))["cached"] is True  # same profile: a hit
    _profile(icp, VALVES)
    after = _qualify(llm_app(icp_file=icp))  # restarted on the edited file
    assert after["cached"] is False
    assert after["profile_version"] != first["profile_version"]
    assert len(openai_server.requests) == 2
    assert VALVES in openai_server.requests[-1]["messages"][0]["content"]


def test_a_result_stored_without_a_version_answers_for_the_default_profile_only(
    llm_app, openai_server, tmp_path
) -> None:
    first = _qualify(llm_app())
    assert first["profile_version"] == default_profile().version
    with sqlite3.connect("data/leadq.db") as db:  # as results were stored before versions
        db.execute("UPDATE qualifications SET result = json_remove(result, '$.profile_version')")
    assert _qualify(llm_app())["cached"] is True
    assert len(openai_server.requests) == 1
    custom = _qualify(llm_app(icp_file=_profile(tmp_path / "icp.toml", PUMPS)))
    assert custom["cached"] is False
    assert len(openai_server.requests) == 2


def test_get_profile_shows_the_profile_in_force_behind_the_api_key(llm_app, tmp_path) -> None:
    icp = _profile(tmp_path / "icp.toml", PUMPS)
    app = llm_app(icp_file=icp, api_keys="k-1")
    with app.client() as api:
        refused = api.get("/api/profile")
        shown = api.get("/api/profile", headers={"X-API-Key": "k-1"})
    assert refused.status_code == 401
    assert shown.status_code == 200
    data = shown.json()
    assert data["version"] == Settings(icp_file=icp).profile.version
    assert data["source"] == str(icp)
    assert data["profile"]["offer"]["description"] == PUMPS
    assert data["profile"]["target_industries"] == ["water treatment"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[offer]\ndescription = "x"\ndisqualifiers = "none"\n', "offer.disqualifiers (line 3)"),
        ("employees_min = 10\nemployees_max = 5 000\n", "line 2"),
        ('title_keywords = ["a"]\n[offer]\nideal_customer = "y"\n', "offer.description"),
    ],
)
def test_a_malformed_profile_refuses_to_start(tmp_path, text: str, named: str) -> None:
    icp = tmp_path / "icp.toml"
    icp.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError, match="LEADQ_ICP_FILE") as caught:
        Settings(icp_file=icp)
    assert named in str(caught.value)
