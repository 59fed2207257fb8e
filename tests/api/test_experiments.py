"""Prompt experiments end to end: two variants over the scripted LLM server, outcomes
recorded through the API, and `GET /api/experiments` reporting them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadq.chain.prompt import load_prompt, system_text
from leadq.core.identity import lead_key
from leadq.core.lead import LeadInput
from leadq.core.profile import default_profile
from leadq.core.variants import parse_variants
from tests.api.test_leads_llm import LEAD
from tests.support.llm import answer, lead_in

SPEC = "v1=0.5,v2=0.5"


def leads(n: int) -> list[dict]:
    return [{**LEAD, "lead_id": f"X-{i}", "lead_name": f"Person {i}"} for i in range(n)]


def test_variants_outcomes_and_experiment_report(live_app, openai_server) -> None:
    openai_server.handler = lambda body: answer(body)
    app = live_app(
        provider="cerebras",
        cerebras_base_url=openai_server.url,
        cerebras_api_key="csk-test",
        max_retries=0,
        prompt_variants=SPEC,
    )
    variants = parse_variants(SPEC, "v1")
    batch = leads(16)
    with app.client() as api:
        results = api.post("/api/leads/qualify-batch", json=batch).json()["data"]
        again = api.post("/api/leads/qualify", json=batch[0]).json()["data"]
        refs = [r["lead_ref"] for r in results]
        won = api.post(
            f"/api/leads/{refs[0]}/outcome", json={"outcome": "won", "date": "2026-11-20"}
        )
        for ref in refs[1:6]:
            api.post(f"/api/leads/{ref}/outcome", json={"outcome": "lost"})
        unknown = api.post("/api/leads/987654/outcome", json={"outcome": "won"})
        wrong = api.post(f"/api/leads/{refs[0]}/outcome", json={"outcome": "maybe"})
        bad_date = api.post(f"/api/leads/{refs[0]}/outcome", json={"outcome": "won", "date": "x"})
        report = api.get("/api/experiments").json()
        erased = api.delete(f"/api/leads/{refs[0]}")
        after = api.get("/api/experiments").json()

    # Each lead got its variant's prompt, and its result records that variant.
    expected = [variants.pick(lead_key(LeadInput.parse(x))) for x in batch]
    assert [r["prompt_version"] for r in results] == expected
    assert set(expected) == {"v1", "v2"}
    assert again["prompt_version"] == expected[0]  # the same lead, the same variant
    systems = {lead_in(b)["lead_name"]: b["messages"][0]["content"] for b in openai_server.requests}
    offer = default_profile().offer
    for lead, version in zip(batch, expected, strict=True):
        assert systems[lead["lead_name"]] == system_text(load_prompt(version), offer)

    assert won.status_code == 200
    saved = won.json()["data"]
    assert (saved["outcome"], saved["date"], saved["prompt_version"]) == (
        "won",
        "2026-11-20",
        expected[0],
    )
    assert saved["qualification_id"] == again["qualification_id"]  # the latest one
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 422
    assert bad_date.status_code == 422

    by = {v["variant"]: v for v in report["variants"]}
    assert set(by) == {"v1", "v2"}
    # The re-qualified lead counts twice, unless the result cache answered (nothing new stored).
    stored_again = again["qualification_id"] != results[0]["qualification_id"]
    n_v1 = expected.count("v1") + (expected[0] == "v1" and stored_again)
    assert by["v1"]["qualifications"] == n_v1
    assert by["v1"]["leads"] == expected.count("v1")
    assert by["v1"]["mean_scores"]["fit_score"] == 0.8  # the scripted answer's
    assert by["v1"]["tokens_per_lead"] > 0
    assert by["v1"]["cost_per_lead_usd"] > 0
    assert by["v2"]["tokens_per_lead"] < by["v1"]["tokens_per_lead"]  # v2 is the shorter prompt
    decided = {v: expected[:6].count(v) for v in ("v1", "v2")}
    for version in ("v1", "v2"):
        conv = by[version]["conversion"]
        assert conv["decided"] == decided[version]
        assert conv["won"] == (version == expected[0])
        low, high = conv["ci95"]
        assert 0 <= low <= conv["rate"] <= high <= 1
        assert set(conv["by_action"]) == {"immediate_outreach"}
    (pair,) = report["comparisons"]
    assert pair["variants"] == ["v1", "v2"]
    assert pair["overall"]["test"] == "fisher_exact"
    assert pair["overall"]["significant"] is False
    assert report["configured"]["weights"] == {"v1": 0.5, "v2": 0.5}

    # Erasing the lead that won takes its outcome with it.
    assert erased.status_code == 200
    after_by = {v["variant"]: v for v in after["variants"]}
    assert after_by[expected[0]]["conversion"]["won"] == 0


@pytest.mark.parametrize(
    ("route", "until"),
    [
        *[
            (route, until)
            for route in ("/api/experiments", "/api/stats")
            for until in (
                "9999-12-31T23:00:00-05:00",  # past year 9999 once moved to UTC
                "0001-01-01T00:00:00+05:00",  # before year 1 once moved to UTC
            )
        ],
        ("/api/experiments", "1960-01-01"),  # before its default since, 1970-01-01
    ],
)
def test_an_out_of_range_until_is_reported_as_until(live_app, route: str, until: str) -> None:
    with live_app(provider="rules").client() as api:
        answer = api.get(route, params={"until": until})
        zoned_since = api.get(route, params={"since": "9999-12-31T23:00:00-05:00"})
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["error"]["fields"]] == ["query.until"]
    assert [f["field"] for f in zoned_since.json()["error"]["fields"]] == ["query.since"]


def test_an_outcome_date_before_1970_or_in_the_future_is_refused(live_app) -> None:
    today = datetime.now(UTC).date()
    refused = ["0001-01-01", "1969-12-31", str(today + timedelta(days=2)), "9999-12-31"]
    accepted = ["1970-01-01", str(today), str(today + timedelta(days=1))]  # a day of zone slack
    with live_app(provider="rules").client() as api:
        ref = api.post("/api/leads/qualify", json=LEAD).json()["data"]["lead_ref"]
        answers = {
            on: api.post(f"/api/leads/{ref}/outcome", json={"outcome": "won", "date": on})
            for on in refused + accepted
        }
    for on in refused:
        assert answers[on].status_code == 422, on
        error = answers[on].json()["error"]
        assert (error["code"], [f["field"] for f in error["fields"]]) == ("invalid_input", ["date"])
    for on in accepted:
        assert answers[on].status_code == 200, on
        assert answers[on].json()["data"]["date"] == on
