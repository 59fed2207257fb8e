import json
import sys
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leadq.core.errors import InvalidLeadError
from leadq.core.identity import input_hash
from leadq.core.lead import _CONTROL, MAX_NUMBER, LeadInput


def test_whitespace_stripped_and_blank_is_missing() -> None:
    lead = LeadInput.parse(
        {"lead_name": "  Ann  ", "company_name": "B", "industry": "   ", "job_title": "\tCTO\n"}
    )
    assert lead.lead_name == "Ann"
    assert lead.industry is None
    assert lead.job_title == "CTO"


def test_control_and_zero_width_characters_removed() -> None:
    lead = LeadInput.parse({"lead_name": "A\x00n\u200bn", "company_name": "B\x1b"})
    assert (lead.lead_name, lead.company_name) == ("Ann", "B")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"company_name": "B"}, "lead_name"),
        ({"lead_name": "   ", "company_name": "B"}, "lead_name"),
        ({"lead_name": "A", "company_name": "B", "email": "not-an-email"}, "email"),
        ({"lead_name": "A", "company_name": "B", "job_title": "x" * 201}, "job_title"),
        ({"lead_name": "A", "company_name": "B", "website": "x" * 501}, "website"),
        ({"lead_name": "A", "company_name": "B", "favourite_colour": "red"}, "favourite_colour"),
        ({"lead_name": ["A"], "company_name": "B"}, "lead_name"),
    ],
)
def test_errors_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidLeadError) as info:
        LeadInput.parse(data)
    assert info.value.field == field
    assert field in str(info.value)


def test_blank_required_field_says_required() -> None:
    with pytest.raises(InvalidLeadError, match="lead_name: required"):
        LeadInput.parse({"lead_name": "", "company_name": "B"})


def test_not_an_object() -> None:
    with pytest.raises(InvalidLeadError, match="expected an object"):
        LeadInput.parse(["a"])


def test_numbers_become_text_and_email_lowercased() -> None:
    lead = LeadInput.parse(
        {"lead_name": "A", "company_name": "B", "company_size": 250, "email": "Ann@Example.COM"}
    )
    assert lead.company_size == "250"
    assert lead.email == "ann@example.com"


def _per_field_clean(value: Any) -> Any:
    """The cleaning rule as it was first written, one field at a time."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        return _CONTROL.sub("", value).strip() or None
    return value


VALUES = st.one_of(
    st.text(alphabet=st.sampled_from(" \t\n\r\x00\x1b\x7f\x85\xa0\u200b\u202e\u2060\ufeffaZé1")),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=2), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_each_field_is_cleaned_as_by_the_per_field_rule(value: Any) -> None:
    want = _per_field_clean(value)
    try:
        lead = LeadInput.parse({"lead_name": "A", "company_name": "B", "industry": value})
    except InvalidLeadError as exc:
        error = exc
    else:
        assert lead.industry == want
        return
    assert error.field == "industry"
    assert want is not None, "rejected a value that cleans to None (missing)"
    absurd = isinstance(value, int | float) and not -MAX_NUMBER <= value <= MAX_NUMBER
    assert not isinstance(want, str) or len(want) > 200 or absurd


def test_only_unprintable_characters_are_removed() -> None:
    """`_clean` skips the regex for printable text: every character it removes must be
    unprintable."""
    removed = _CONTROL.findall("".join(map(chr, range(sys.maxunicode + 1))))
    assert removed
    assert not any(c.isprintable() for c in removed)


def test_tabs_and_newlines_inside_text_are_kept() -> None:
    lead = LeadInput.parse(
        {"lead_name": "A", "company_name": "B", "engagement_history": " one\ttwo\nthree\x00 "}
    )
    assert lead.engagement_history == "one\ttwo\nthree"


def test_any_mapping_is_cleaned_and_other_inputs_are_left_to_pydantic() -> None:
    data = MappingProxyType({"lead_name": " A ", "company_name": 7, "job_title": 2.5})
    lead = LeadInput.model_validate(data)
    assert (lead.lead_name, lead.company_name, lead.job_title) == ("A", "7", "2.5")
    assert lead.model_fields_set == {"lead_name", "company_name", "job_title"}
    with pytest.raises(ValidationError, match="valid dictionary"):
        LeadInput.model_validate([("lead_name", "A")])


def test_unknown_fields_are_not_cleaned_but_named() -> None:
    with pytest.raises(InvalidLeadError) as info:
        LeadInput.parse({"lead_name": "A", "company_name": "B", "colour": "   "})
    assert info.value.errors == [{"field": "colour", "message": "Extra inputs are not permitted"}]


def test_true_and_false_are_not_text() -> None:
    with pytest.raises(InvalidLeadError, match="job_title: Input should be a valid string"):
        LeadInput.parse({"lead_name": "A", "company_name": "B", "job_title": True})


def test_errors_name_every_wrong_field_in_order() -> None:
    with pytest.raises(InvalidLeadError) as info:
        LeadInput.parse({"lead_name": " ", "company_name": "B", "email": " x@y ", "website": []})
    assert [e["field"] for e in info.value.errors] == ["lead_name", "email", "website"]
    assert str(info.value) == (
        "invalid lead: lead_name: required, but missing or blank; "
        "email: Value error, not an email address; website: Input should be a valid string"
    )


# ---- attributes ---------------------------------------------------------------------------

BASE = {"lead_name": "A", "company_name": "B"}


def test_attributes_are_cleaned_as_the_fields_are() -> None:
    lead = LeadInput.parse(
        {
            **BASE,
            "attributes": {
                " Lead Source\u200b ": " Webinar\x00 ",
                "Score (HubSpot)": 72,
                "Weight": 0.5,
                "Opted in": True,
                "Churned": False,
                "Blank": "   ",
                "Null": None,
            },
        }
    )
    assert lead.attributes == {
        "Lead Source": "Webinar",
        "Score (HubSpot)": 72,
        "Weight": 0.5,
        "Opted in": "true",
        "Churned": "false",
    }
    assert lead.raw_hidden == {"attributes.Lead Source": " Lead Source\u200b \n Webinar\x00 "}
    assert lead.truncated == ()


def test_attributes_with_no_value_are_none() -> None:
    assert LeadInput.parse({**BASE, "attributes": {}}).attributes is None
    assert LeadInput.parse({**BASE, "attributes": {"x": " ", "y": None}}).attributes is None
    assert LeadInput.parse(BASE).attributes is None


@pytest.mark.parametrize(
    ("attributes", "field", "message"),
    [
        ({"Owner": {"name": "Jo"}}, "attributes.Owner", "not an object"),
        ({"Tags": ["a", "b"]}, "attributes.Tags", "not a list"),
        ({"Score": 1e16}, "attributes.Score", "number out of range"),
        ({"Score": float("nan")}, "attributes.Score", "number out of range"),
        ({str(i): i for i in range(51)}, "attributes", "at most 50 attributes, got 51"),
        ({"x" * 101: "v"}, "attributes." + "x" * 39 + "…", "at most 100 characters"),
        ({" \u200b": "v"}, "attributes", "name is blank"),
        ({"Country": "DE", "Country\u200b": "FR"}, "attributes.Country", "two attributes"),
        ("Country=DE", "attributes", "valid dictionary"),
    ],
)
def test_attribute_errors_name_the_attribute(attributes: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidLeadError) as info:
        LeadInput.parse({**BASE, "attributes": attributes})
    [error] = info.value.errors
    assert error["field"] == field
    assert message in error["message"]


def test_fifty_attributes_with_names_of_100_characters_are_kept() -> None:
    attributes = {f"{i:03d}" + "n" * 97: "v" for i in range(50)}
    assert LeadInput.parse({**BASE, "attributes": attributes}).attributes == attributes


# ---- over-long text -----------------------------------------------------------------------


def test_an_over_long_note_is_cut_to_its_limit_and_marked() -> None:
    lead = LeadInput.parse(
        {**BASE, "engagement_history": "é" * 10_000, "additional_context": "ok " * 2000}
    )
    assert lead.engagement_history == "é" * 3999 + "…"
    assert lead.additional_context is not None
    assert len(lead.additional_context) <= 4000
    assert lead.additional_context.endswith("ok…")  # no blank before the mark
    assert lead.truncated == ("engagement_history", "additional_context")
    assert LeadInput.parse({**BASE, "engagement_history": "é" * 4000}).truncated == ()


def test_an_over_long_attribute_text_is_cut_and_marked() -> None:
    lead = LeadInput.parse(
        {**BASE, "engagement_history": "n" * 4001, "attributes": {"Notes": "x" * 1001, "n": 5}}
    )
    assert lead.attributes == {"Notes": "x" * 999 + "…", "n": 5}
    assert lead.truncated == ("engagement_history", "attributes.Notes")


def test_a_cut_note_survives_a_copy_and_a_clean_lead_has_no_private_state() -> None:
    cut = LeadInput.parse({**BASE, "additional_context": "x" * 5000})
    assert cut.model_copy(update={"industry": "SaaS"}).truncated == ("additional_context",)
    assert LeadInput.parse(BASE).__pydantic_private__ is None


def test_fields_with_short_limits_are_still_refused_beside_a_cut_note() -> None:
    with pytest.raises(InvalidLeadError) as info:
        LeadInput.parse(
            {"lead_name": "x" * 5000, "company_name": "B", "engagement_history": "n" * 10_000}
        )
    assert [e["field"] for e in info.value.errors] == ["lead_name"]


def test_the_published_schema_gives_no_maximum_for_notes() -> None:
    schema = LeadInput.model_json_schema()["properties"]
    assert "maxLength" not in json.dumps(schema["engagement_history"])
    assert "maxLength" not in json.dumps(schema["additional_context"])
    assert "maxLength" in json.dumps(schema["job_title"])
    assert schema["attributes"]["anyOf"][0]["maxProperties"] == 50
    assert "attributes" in LeadInput.model_config["json_schema_extra"]["example"]  # type: ignore[index,operator]


# ---- the input hash -----------------------------------------------------------------------

KNOWN = {
    "lead_name": "John Doe",
    "company_name": "Acme Corp",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$10M",
    "job_title": "VP Sales",
    "engagement_history": "Visited pricing 3x",
}
# input_hash(KNOWN) as computed before leads had attributes: stored hashes and cached
# results stay valid.
KNOWN_HASH = "9c8cb3eaca201007c9d0e17243a255b68e401f01f02e1e040b6bd590cb4569c3"


def test_a_lead_without_attributes_hashes_as_before() -> None:
    assert input_hash(LeadInput.parse(KNOWN)) == KNOWN_HASH
    assert input_hash(LeadInput.parse({**KNOWN, "attributes": {}})) == KNOWN_HASH
    assert input_hash(LeadInput.parse({**KNOWN, "attributes": {"x": " "}})) == KNOWN_HASH


def test_attributes_are_part_of_the_input_hash() -> None:
    de = input_hash(LeadInput.parse({**KNOWN, "attributes": {"Country": "DE"}}))
    fr = input_hash(LeadInput.parse({**KNOWN, "attributes": {"Country": "FR"}}))
    assert len({de, fr, KNOWN_HASH}) == 3
    assert input_hash(LeadInput.parse({**KNOWN, "attributes": {" Country ": "DE "}})) == de


def test_a_lead_key_that_folding_lengthens_past_the_column_is_hashed() -> None:
    """200 "ß" become 400 "ss" once case-folded: the key would not fit the store's column
    (PostgreSQL refuses it, and every later save with it), so it is kept as a hash."""
    from leadq.core.identity import MAX_KEY, lead_key

    long = LeadInput.parse({"lead_name": "ß" * 200, "company_name": "ß" * 200})
    key = lead_key(long)
    assert len(key) <= MAX_KEY
    assert key.startswith("name#sha256:")
    other = LeadInput.parse({"lead_name": "ß" * 200, "company_name": "ß" * 199 + "x"})
    assert lead_key(other) != key
    short = LeadInput.parse({"lead_name": "Ann Lee", "company_name": "Acme"})
    assert lead_key(short) == "name:ann lee|acme"  # ordinary keys are unchanged
