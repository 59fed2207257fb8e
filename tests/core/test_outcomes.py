"""Outcomes in the CRM's words: the stage table, the plausible dates, conversion by action."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources

import pytest
from pydantic import ValidationError

from leadq.config import Settings
from leadq.core.outcomes import StageTable, check_date, conversion_by_action

TABLE = {"won": ["Closed Won", "Customer"], "lost": ["Closed Lost"], "disqualified": ["Junk"]}


def shipped() -> StageTable:
    text = resources.files("leadq.data").joinpath("outcome_stages.toml").read_text("utf-8")
    return StageTable.build(tomllib.loads(text))


@pytest.mark.parametrize(
    ("word", "outcome"),
    [
        ("Closed Won", "won"),
        ("closed-won", "won"),
        ("CLOSED_WON", "won"),
        (" ClosedWon ", "won"),
        ("Customer", "won"),
        ("Closed Lost", "lost"),
        ("junk", "disqualified"),
        ("won", "won"),  # leadq's own names always match, however written
        ("No Response", "no_response"),
        ("NO-RESPONSE", "no_response"),
        ("Disqualified", "disqualified"),
    ],
)
def test_a_stage_maps_to_its_outcome_whatever_its_case_spacing_or_punctuation(
    word: str, outcome: str
) -> None:
    assert StageTable.build(TABLE).outcome(word) == outcome


@pytest.mark.parametrize("word", ["Contract Sent", "maybe", "", "---", "Closed"])
def test_an_unknown_stage_maps_to_nothing_and_is_told_what_is_accepted(word: str) -> None:
    table = StageTable.build(TABLE)
    assert table.outcome(word) is None
    why = table.unknown(word)
    assert "won, lost, no_response, disqualified" in why
    assert "Closed Won, Customer, Closed Lost, Junk" in why


def test_the_shipped_table_knows_the_crms_words() -> None:
    table = shipped()
    assert [table.outcome(w) for w in ("Closed-Won", "Converted", "Closed - Converted")] == [
        "won",
        "won",
        "won",
    ]
    assert [table.outcome(w) for w in ("Closed Lost", "Lost", "Closed - Not Converted")] == [
        "lost",
        "lost",
        "lost",
    ]
    assert table.outcome("Unqualified") == table.outcome("Junk Lead") == "disqualified"
    assert table.outcome("Unresponsive") == table.outcome("No Show") == "no_response"
    assert table.outcome("Contract Sent") is None  # not an outcome yet: refused, not guessed


def test_extra_pairs_add_names_and_win_over_the_defaults() -> None:
    table = StageTable.build(TABLE, "Signed=won, Customer = lost ,, Went Dark=no_response")
    assert table.outcome("signed") == "won"
    assert table.outcome("customer") == "lost"
    assert table.outcome("went-dark") == "no_response"
    assert table.outcome("Closed Won") == "won"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("Signed=wonn", "LEADQ_OUTCOME_STAGES (Signed): 'wonn' is not an outcome"),
        ("Signed", "LEADQ_OUTCOME_STAGES: 'Signed' is not `Stage=outcome`"),
        ("=won", "LEADQ_OUTCOME_STAGES: '' is not a stage name"),
        ("Lost=won", "LEADQ_OUTCOME_STAGES: 'Lost' is leadq's own outcome lost"),
    ],
)
def test_a_bad_pair_is_an_error_naming_the_setting(extra: str, message: str) -> None:
    with pytest.raises(ValueError, match="LEADQ_OUTCOME_STAGES") as caught:
        StageTable.build(TABLE, extra)
    assert message in str(caught.value)


def test_a_bad_default_table_is_an_error_naming_the_file() -> None:
    with pytest.raises(ValueError, match=r"outcome_stages\.toml: 'Junk' is listed for"):
        StageTable.build({**TABLE, "lost": ["Closed Lost", "junk"]})
    with pytest.raises(ValueError, match=r"outcome_stages\.toml: 'maybe' is not an outcome"):
        StageTable.build({"maybe": ["Later"]})


def test_the_setting_is_read_and_a_bad_one_is_a_settings_error() -> None:
    table = Settings(outcome_stages="Signed=won").stage_table
    assert table.outcome("SIGNED") == "won"
    assert table.outcome("Closed Won") == "won"  # the shipped table still applies
    with pytest.raises(ValidationError, match="LEADQ_OUTCOME_STAGES"):
        Settings(outcome_stages="Signed=champagne")


def test_dates_from_1970_to_tomorrow_in_utc() -> None:
    today = date(2026, 11, 20)
    assert check_date(date(1970, 1, 1), today) == date(1970, 1, 1)
    assert check_date(date(2026, 11, 21), today) == date(2026, 11, 21)  # zones ahead of UTC
    with pytest.raises(ValueError, match="on or after 1970-01-01"):
        check_date(date(1969, 12, 31), today)
    with pytest.raises(ValueError, match="not be in the future"):
        check_date(date(2026, 11, 22), today)


def test_conversion_by_action_is_won_over_won_and_lost() -> None:
    rows = [
        ("immediate_outreach", "won", 3),
        ("immediate_outreach", "lost", 1),
        ("immediate_outreach", "no_response", 2),
        ("not_qualified", "lost", 4),
        ("not_qualified", "disqualified", 1),
        ("followup_research", "no_response", 2),
        (None, "won", 1),
    ]
    by = {c["action"]: c for c in conversion_by_action(rows)}
    assert list(by) == ["followup_research", "immediate_outreach", "not_qualified", None]
    assert by["immediate_outreach"] == {
        "action": "immediate_outreach",
        "count": 6,
        "won": 3,
        "lost": 1,
        "other": 2,
        "conversion_rate": 0.75,
    }
    assert by["not_qualified"]["conversion_rate"] == 0.0
    assert by["not_qualified"]["other"] == 1
    assert by["followup_research"]["conversion_rate"] is None  # none won or lost yet
    assert by[None]["count"] == 1
    assert conversion_by_action([]) == []
