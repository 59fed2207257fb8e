import pytest

from leadq.errors import InvalidLeadError
from leadq.schemas.lead import LeadInput


def test_whitespace_stripped_and_blank_is_missing() -> None:
    lead = LeadInput.parse(
        {"lead_name": "  Ann  ", "company_name": "B", "industry": "   ", "job_title": "\tCTO\n"}
    )
    assert lead.lead_name == "Ann" and lead.industry is None and lead.job_title == "CTO"


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
    assert lead.company_size == "250" and lead.email == "ann@example.com"
