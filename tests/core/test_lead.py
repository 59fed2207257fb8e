import sys
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leadq.core.errors import InvalidLeadError
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
        (
            {"lead_name": "A", "company_name": "B", "additional_context": "x" * 4001},
            "additional_context",
        ),
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
