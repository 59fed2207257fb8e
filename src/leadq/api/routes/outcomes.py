"""Record what happened to leads, for prompt experiments and conversion by action:
`POST /api/outcomes` (many, by the CRM's id or email and its stage names) and
`POST /api/leads/{id}/outcome` (one, by leadq's id)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from leadq.api.deps import SettingsDep, StoreDep, require_api_key
from leadq.api.models import (
    ERROR_RESPONSES,
    ErrorResponse,
    OutcomeResponse,
    OutcomesResponse,
    error_body,
)
from leadq.api.routes.records import RecordId
from leadq.core.errors import NotFound
from leadq.core.outcomes import StageTable, check_date
from leadq.storage.outcomes import LOOKUPS, LookupKind, find_lead_refs, record_outcomes
from leadq.storage.store import Store

router = APIRouter(
    prefix="/api",
    tags=["records"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)

OUTCOME_DOC = (
    "won, lost, no_response, disqualified, or a CRM stage that records one (`Closed Won`, "
    "`Unqualified`, ...: data/outcome_stages.toml and LEADQ_OUTCOME_STAGES), in any case, "
    "spacing or punctuation"
)
DATE_DOC = (
    "ISO date, e.g. 2026-11-20; from 1970-01-01 up to tomorrow in UTC (a day of slack for "
    "zones ahead of UTC). Default: today, UTC."
)


class OutcomeIn(BaseModel):
    """What happened to the lead, and on which day (default: today, UTC)."""

    outcome: str = Field(min_length=1, max_length=200, description=OUTCOME_DOC)
    date: dt.date | None = Field(None, description=DATE_DOC)

    @field_validator("date")
    @classmethod
    def _plausible(cls, value: dt.date | None) -> dt.date | None:
        return value if value is None else check_date(value)


class OutcomeItem(BaseModel):
    """One lead, named by leadq's id, your id or its email (tried in that order), and what
    happened to it."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # a CRM's ids are often numbers

    lead_ref: int | None = Field(None, ge=1, le=2**63 - 1, description="leadq's id.")
    lead_id: str | None = Field(None, max_length=200, description="Your (the CRM's) id.")
    email: str | None = Field(None, max_length=320)
    outcome: str = Field(min_length=1, max_length=200, description=OUTCOME_DOC)
    date: dt.date | None = Field(
        None, description=DATE_DOC + " Out of range: this item's error, not the request's."
    )

    @model_validator(mode="after")
    def _names_a_lead(self) -> OutcomeItem:
        if self.lead_ref is None and not (self.lead_id or "").strip() + (self.email or "").strip():
            raise ValueError("needs lead_id, email or lead_ref")
        return self

    def lookup(self) -> tuple[LookupKind, str]:
        """`(kind, value)` of the first way it names its lead."""
        given = {"lead_ref": self.lead_ref, "lead_id": self.lead_id, "email": self.email}
        return next((k, str(given[k]).strip()) for k in LOOKUPS if str(given[k] or "").strip())


_404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such stored lead."}
}
EXAMPLE = [
    {"lead_id": "CRM-1", "outcome": "Closed Won", "date": "2026-11-20"},
    {"email": "ann@acme.example", "outcome": "Closed Lost"},
    {"lead_ref": 12, "outcome": "no_response"},
]


_ITEM = TypeAdapter(OutcomeItem)
_ITEMS = TypeAdapter(list[OutcomeItem])
_ITEM_SCHEMA = OutcomeItem.model_json_schema()
_BATCH = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"type": "array", "items": _ITEM_SCHEMA}, _ITEM_SCHEMA]},
                "example": EXAMPLE,
            }
        },
    }
}


def _items(body: Any) -> list[OutcomeItem]:
    """The items of a list, or the one object; a 422 naming each wrong field (`0.outcome`
    in a list, `outcome` alone)."""
    try:
        return (
            _ITEMS.validate_python(body)
            if isinstance(body, list)
            else [_ITEM.validate_python(body)]
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


@router.post("/outcomes", response_model=OutcomesResponse, openapi_extra=_BATCH)
async def record_many(
    body: Annotated[Any, Body()], store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Record outcomes in the CRM's words: each item names a lead by `lead_id` (your id),
    `email` or `lead_ref` (leadq's id), and its `outcome` by leadq's name or a CRM stage.
    One answer per item, in order: the recorded outcome, or that item's error (`not_found`,
    `invalid_input`); the others are recorded all the same. A later outcome for a lead
    supersedes its earlier ones."""
    data = await store.call(_record_many, store, settings.stage_table, _items(body))
    failed = sum(1 for d in data if d["status"] == "error")
    return {
        "status": "success",
        "count": len(data),
        "recorded": len(data) - failed,
        "failed": failed,
        "data": data,
    }


def _record_many(
    store: Store, stages: StageTable, items: list[OutcomeItem]
) -> list[dict[str, Any]]:
    """Each item's entry of the answer; the good ones recorded in one transaction."""
    today = dt.datetime.now(dt.UTC).date()
    lookups = [item.lookup() for item in items]
    refs = find_lead_refs(store, lookups)
    out: list[dict[str, Any]] = []
    good: list[tuple[int, str, dt.date]] = []
    for i, (item, (kind, value), ref) in enumerate(zip(items, lookups, refs, strict=True)):
        fields = []
        outcome = stages.outcome(item.outcome)
        if outcome is None:
            fields.append({"field": "outcome", "message": stages.unknown(item.outcome)})
        try:
            on = check_date(item.date, today) if item.date else today
        except ValueError as exc:
            fields.append({"field": "date", "message": str(exc)})
        missing = f"no stored lead with {kind} {value!r}"
        if fields:
            summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
            out.append(_failed(i, "invalid_input", f"invalid outcome: {summary}", fields))
        elif ref is None or outcome is None:
            out.append(_failed(i, "not_found", missing))
        else:
            good.append((ref, outcome, on))
            out.append({"index": i, "status": "recorded", "missing": missing})
    saved = iter(record_outcomes(store, good))
    for i, entry in enumerate(out):
        if entry["status"] == "recorded":
            data, missing = next(saved), entry.pop("missing")
            # Erased since it was looked up: as if it had never been found.
            out[i] = {**entry, "data": data} if data else _failed(i, "not_found", missing)
    return out


def _failed(
    index: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"index": index, "status": "error", **error_body(code, message, fields=fields)}


@router.post("/leads/{lead_ref}/outcome", response_model=OutcomeResponse, responses=_404)
async def record_outcome(
    lead_ref: RecordId, body: OutcomeIn, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Record the lead's outcome against its latest qualification (its prompt variant and
    action); a later outcome for the same lead supersedes it in `/api/experiments`."""
    stages = settings.stage_table
    outcome = stages.outcome(body.outcome)
    if outcome is None:
        raise RequestValidationError(
            [{"loc": ("body", "outcome"), "msg": stages.unknown(body.outcome), "type": "value"}]
        )
    on = body.date or dt.datetime.now(dt.UTC).date()
    (saved,) = await store.call(record_outcomes, store, [(lead_ref, outcome, on)])
    if saved is None:
        raise NotFound(f"no stored lead with id {lead_ref}")
    return {"status": "success", "data": saved}
