"""The lead a caller sends: the original design's input fields, which its clients send, plus
the caller's `lead_id` and `email`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadq.core.errors import InvalidLeadError

# C0/C1 control characters except tab and newline; zero-width, bidi controls and isolates,
# and Unicode tag characters (invisible ASCII look-alikes used to smuggle instructions).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
    r"\U000e0000-\U000e007f]"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SHORT = 200
MAX_NUMBER = 10**15  # a number sent for a field (revenue, size): above any real company
LONG = 4000

LEAD_FIELDS = (
    "lead_id",
    "lead_name",
    "email",
    "company_name",
    "industry",
    "company_size",
    "annual_revenue",
    "job_title",
    "website",
    "engagement_history",
    "additional_context",
)
_FIELDS = frozenset(LEAD_FIELDS)


class LeadInput(BaseModel):
    """One lead. Whitespace is stripped and blank strings count as missing."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "example": {
                "lead_name": "John Doe",
                "company_name": "Acme Corp",
                "industry": "SaaS",
                "company_size": "100-500",
                "annual_revenue": "$10M",
                "job_title": "VP Sales",
                "website": "acme.example.com",
                "engagement_history": "Visited pricing 3x, opened 2 emails",
                "additional_context": "Recently funded Series B",
            }
        },
    )

    lead_id: str | None = Field(None, max_length=SHORT, description="The caller's own id.")
    lead_name: str = Field(..., max_length=SHORT, description="The person's name.")
    email: str | None = Field(None, max_length=320)
    company_name: str = Field(..., max_length=SHORT)
    industry: str | None = Field(None, max_length=SHORT)
    company_size: str | None = Field(None, max_length=100, description='e.g. "100-500", "1k+"')
    annual_revenue: str | None = Field(None, max_length=100, description='e.g. "$10M", "EUR 2.5bn"')
    job_title: str | None = Field(None, max_length=SHORT)
    website: str | None = Field(None, max_length=500)
    engagement_history: str | None = Field(None, max_length=LONG)
    additional_context: str | None = Field(None, max_length=LONG)

    @model_validator(mode="wrap")
    @classmethod
    def _clean(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Numbers become text; text loses control and zero-width characters and outer
        whitespace, and counts as missing when blank. One loop over the lead's fields
        rather than a validator call per field, as every lead is parsed on the way in. The
        raw text of a field that lost characters is kept on the lead (`raw_hidden`)."""
        if not isinstance(data, Mapping):
            return handler(data)
        clean, hidden, wrong = {}, None, []
        for key, value in data.items():
            if key in _FIELDS:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if not -MAX_NUMBER <= value <= MAX_NUMBER:  # also NaN and infinities
                        wrong.append(_out_of_range(key, value))
                        continue
                    value = str(value)
                if isinstance(value, str):
                    if not value.isprintable():  # all that _CONTROL removes is unprintable
                        kept = _CONTROL.sub("", value)
                        if len(kept) != len(value):
                            hidden = hidden or {}
                            hidden[key] = value
                        value = kept
                    value = value.strip() or None
            clean[key] = value
        if wrong:
            raise ValidationError.from_exception_data(cls.__name__, wrong)
        lead = handler(clean)
        if hidden:
            # Kept in pydantic's private-state slot (copied by model_copy, compared by ==)
            # without declaring a PrivateAttr, which every lead would pay to set up, while
            # only a lead that lost hidden characters needs the slot.
            object.__setattr__(lead, "__pydantic_private__", {"raw_hidden": hidden})
        return lead

    @property
    def raw_hidden(self) -> dict[str, str]:
        """Each field whose text had hidden characters removed, with the text as it arrived
        (the injection screen looks for smuggled instructions in it)."""
        private = self.__pydantic_private__
        return private.get("raw_hidden", {}) if private else {}

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value.lower() if value else value

    @classmethod
    def parse(cls, data: Any) -> LeadInput:
        """Validate `data`, raising `InvalidLeadError` that names each wrong field."""
        if isinstance(data, LeadInput):
            return data
        if not isinstance(data, dict):
            raise InvalidLeadError(
                [{"field": "lead", "message": f"expected an object, got {type(data).__name__}"}]
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidLeadError.from_pydantic(exc) from None

    def present(self) -> dict[str, str]:
        """The fields that carry a value, in schema order, without the caller's id."""
        return {k: v for k in LEAD_FIELDS if k != "lead_id" and (v := getattr(self, k)) is not None}


def _out_of_range(field: str, value: float) -> InitErrorDetails:
    """The error for a number no lead field can mean (10**400, 1e308, NaN, infinities)."""
    error = PydanticCustomError(
        "number_out_of_range",
        "number out of range: send a finite number between -10^15 and 10^15, or text",
    )
    return InitErrorDetails(type=error, loc=(field,), input=value)
