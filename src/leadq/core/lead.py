"""The lead a caller sends: the original design's input fields, which its clients send, plus
the caller's `lead_id` and `email`, and `attributes`: the caller's other facts about the lead,
by the caller's names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

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
MAX_ATTRIBUTES = 50
ATTRIBUTE_NAME = 100  # characters of an attribute's name
ATTRIBUTE_TEXT = 1000  # characters of an attribute's text, past which it is cut
CUT_MARK = "…"  # ends free text that was cut to its limit

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
# Free text (CRM notes) cut to its limit rather than refused; a longer name, company,
# title, email, size, revenue or website is refused: that is garbage, not a long note.
_CUT = frozenset({"engagement_history", "additional_context"})
_CUT_TEXT = (
    f"Free text: the first {LONG} characters are kept; longer text is cut (ending in "
    f'"{CUT_MARK}") and the result is flagged text_truncated.'
)


def _cut_not_refused(schema: dict[str, Any]) -> None:
    """The published schema gives no maximum for a field whose longer text is cut, not
    refused (the model keeps `max_length`: past it, `_clean` cuts the text)."""
    schema.pop("maxLength", None)
    for option in schema.get("anyOf", ()):
        option.pop("maxLength", None)


class LeadInput(BaseModel):
    """One lead. Whitespace is stripped and blank strings count as missing; free text past
    its limit is cut (`truncated` names it)."""

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
                "attributes": {"Lead Source": "Webinar", "Country": "DE", "Score (HubSpot)": 72},
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
    engagement_history: str | None = Field(
        None, max_length=LONG, description=_CUT_TEXT, json_schema_extra=_cut_not_refused
    )
    additional_context: str | None = Field(
        None, max_length=LONG, description=_CUT_TEXT, json_schema_extra=_cut_not_refused
    )
    attributes: dict[str, str | int | float] | None = Field(
        None,
        max_length=MAX_ATTRIBUTES,
        description="Other facts about the lead, named as your CRM names them: name -> text "
        f"or number (true/false become text). At most {MAX_ATTRIBUTES}; names up to "
        f"{ATTRIBUTE_NAME} characters; text cleaned as the fields are and cut at "
        f"{ATTRIBUTE_TEXT} characters (the result is flagged text_truncated); numbers finite "
        "within ±10^15; no nested objects or lists. Shown to the model, part of the cache "
        "key, stored with the lead and written to every output.",
        examples=[{"Lead Source": "Webinar", "Country": "DE", "Score (HubSpot)": 72}],
    )

    @model_validator(mode="wrap")
    @classmethod
    def _clean(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Numbers become text; text loses control and zero-width characters and outer
        whitespace, and counts as missing when blank. One loop over the lead's fields
        rather than a validator call per field, as every lead is parsed on the way in. The
        raw text of a field that lost characters is kept on the lead (`raw_hidden`), and so
        are the names of the free-text fields cut to their limit (`truncated`)."""
        if not isinstance(data, Mapping):
            return handler(data)
        clean, hidden, wrong = {}, None, []
        cut: list[str] = []
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
            elif key == "attributes" and isinstance(value, Mapping):
                value, attr_hidden, cut, attr_wrong = _clean_attributes(value)
                if attr_hidden:
                    hidden = {**(hidden or {}), **attr_hidden}
                wrong += attr_wrong
            clean[key] = value
        if wrong:
            raise ValidationError.from_exception_data(cls.__name__, wrong)
        try:
            lead = handler(clean)
        except ValidationError as exc:
            # Free text past its limit is cut, not refused. Found from the error, so that a
            # lead within its limits pays nothing for the check.
            over = [
                e["loc"][0]
                for e in exc.errors()
                if e["type"] == "string_too_long" and e["loc"][0] in _CUT
            ]
            if not over:
                raise
            for key in over:
                clean[key] = _cut(clean[key], LONG)
            lead = handler(clean)
            cut = [*map(str, over), *cut]
        if hidden or cut:
            # Kept in pydantic's private-state slot (copied by model_copy, compared by ==)
            # without declaring a PrivateAttr, which every lead would pay to set up, while
            # only a lead that lost hidden characters or was cut needs the slot.
            private: dict[str, Any] = {}
            if hidden:
                private["raw_hidden"] = hidden
            if cut:
                private["truncated"] = tuple(cut)
            object.__setattr__(lead, "__pydantic_private__", private)
        return lead

    @property
    def raw_hidden(self) -> dict[str, str]:
        """Each field whose text had hidden characters removed, with the text as it arrived
        (the injection screen looks for smuggled instructions in it). An attribute is named
        `attributes.<name>`, its text is its name and value as they arrived, a line each."""
        private = self.__pydantic_private__
        return private.get("raw_hidden", {}) if private else {}

    @property
    def truncated(self) -> tuple[str, ...]:
        """The free-text fields (`engagement_history`, `additional_context`,
        `attributes.<name>`) that were cut to their limit, in the lead's order."""
        private = self.__pydantic_private__
        return private.get("truncated", ()) if private else ()

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


def _out_of_range(field: str | tuple[str, str], value: float) -> InitErrorDetails:
    """The error for a number no lead field can mean (10**400, 1e308, NaN, infinities)."""
    error = PydanticCustomError(
        "number_out_of_range",
        "number out of range: send a finite number between -10^15 and 10^15, or text",
    )
    return InitErrorDetails(
        type=error, loc=field if isinstance(field, tuple) else (field,), input=value
    )


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (code points), ending in `CUT_MARK`."""
    return text[: limit - len(CUT_MARK)].rstrip() + CUT_MARK


def clean_text(value: str) -> str:
    """`value` as a lead keeps text: without control and zero-width characters and outer
    whitespace (an attribute's name is kept so)."""
    return (value if value.isprintable() else _CONTROL.sub("", value)).strip()


def _lost_hidden(text: str) -> bool:
    """Whether cleaning removes characters from `text`."""
    return not text.isprintable() and _CONTROL.search(text) is not None


def _attribute_error(name: str, kind: str, message: str, value: Any) -> InitErrorDetails:
    loc = ("attributes", name) if name else ("attributes",)
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


class _Attributes(NamedTuple):
    values: dict[str, str | int | float] | None  # None: no attribute has a value
    hidden: dict[str, str]  # as `LeadInput.raw_hidden`
    cut: list[str]  # `attributes.<name>` of each text cut to ATTRIBUTE_TEXT
    wrong: list[InitErrorDetails]


def _clean_attributes(data: Mapping[Any, Any]) -> _Attributes:
    """A lead's `attributes` cleaned as its fields are: names and text lose control and
    zero-width characters and outer whitespace, a blank or null value is no attribute,
    true/false become text, numbers stay numbers (within ±10^15), and text longer than
    ATTRIBUTE_TEXT is cut. Too many, over-long or repeated names, and values that are
    objects or lists, are errors naming `attributes.<name>`."""
    values: dict[str, str | int | float] = {}
    hidden: dict[str, str] = {}
    cut: list[str] = []
    if len(data) > MAX_ATTRIBUTES:
        error = _attribute_error(
            "",
            "too_many_attributes",
            f"at most {MAX_ATTRIBUTES} attributes, got {len(data)}",
            len(data),
        )
        return _Attributes(None, hidden, cut, [error])
    wrong: list[InitErrorDetails] = []
    seen: set[str] = set()
    for raw_name, raw in data.items():
        if not isinstance(raw_name, str):
            wrong.append(
                _attribute_error(str(raw_name), "attribute_name", "a name must be text", raw_name)
            )
            continue
        name = clean_text(raw_name)
        if not name:
            wrong.append(
                _attribute_error("", "attribute_name", "an attribute's name is blank", raw_name)
            )
            continue
        if len(name) > ATTRIBUTE_NAME:
            message = f"a name has at most {ATTRIBUTE_NAME} characters, this one {len(name)}"
            wrong.append(_attribute_error(_cut(name, 40), "attribute_name", message, raw_name))
            continue
        if name in seen:
            message = "two attributes have this name (once cleaned)"
            wrong.append(_attribute_error(name, "attribute_name", message, raw_name))
            continue
        seen.add(name)
        if raw is None:
            continue
        if _lost_hidden(raw_name) or (isinstance(raw, str) and _lost_hidden(raw)):
            # Kept even when nothing else is left: hidden text alone is a signal.
            hidden[f"attributes.{name}"] = f"{raw_name}\n{raw}"
        value: str | int | float
        if isinstance(raw, bool):
            value = "true" if raw else "false"
        elif isinstance(raw, (int, float)):
            if not -MAX_NUMBER <= raw <= MAX_NUMBER:  # also NaN and infinities
                wrong.append(_out_of_range(("attributes", name), raw))
                continue
            value = raw
        elif isinstance(raw, str):
            value = clean_text(raw)
            if not value:
                continue
            if len(value) > ATTRIBUTE_TEXT:
                value = _cut(value, ATTRIBUTE_TEXT)
                cut.append(f"attributes.{name}")
        else:
            kind = "an object" if isinstance(raw, Mapping) else "a list"
            if not isinstance(raw, (Mapping, list)):
                kind = type(raw).__name__
            message = f"an attribute is text or a number, not {kind}"
            wrong.append(_attribute_error(name, "attribute_type", message, raw))
            continue
        values[name] = value
    return _Attributes(values or None, hidden, cut, wrong)
