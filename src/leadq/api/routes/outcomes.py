"""`POST /api/leads/{id}/outcome`: record what happened to a lead, for prompt experiments."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator

from leadq.api.deps import StoreDep, require_api_key
from leadq.api.models import ERROR_RESPONSES, ErrorResponse, OutcomeResponse
from leadq.api.routes.records import RecordId
from leadq.core.errors import NotFound
from leadq.storage.outcomes import OutcomeName, record_outcomes

router = APIRouter(
    prefix="/api/leads",
    tags=["records"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)


EARLIEST_OUTCOME = dt.date(1970, 1, 1)


class OutcomeIn(BaseModel):
    """What happened to the lead, and on which day (default: today, UTC)."""

    outcome: OutcomeName
    date: dt.date | None = Field(
        None,
        description="ISO date, e.g. 2026-11-20; from 1970-01-01 up to tomorrow in UTC (a day "
        "of slack for zones ahead of UTC).",
    )

    @field_validator("date")
    @classmethod
    def _plausible(cls, value: dt.date | None) -> dt.date | None:
        """From 1970-01-01 to tomorrow in UTC (a day of slack for zones ahead of UTC)."""
        if value is None:
            return value
        latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        if value < EARLIEST_OUTCOME:
            raise ValueError(f"must be on or after {EARLIEST_OUTCOME}")
        if value > latest:
            raise ValueError(f"must not be in the future (after {latest}, tomorrow in UTC)")
        return value


_404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such stored lead."}
}


@router.post("/{lead_ref}/outcome", response_model=OutcomeResponse, responses=_404)
async def record_outcome(lead_ref: RecordId, body: OutcomeIn, store: StoreDep) -> dict[str, Any]:
    """Record the lead's outcome against its latest qualification (its prompt variant and
    action); a later outcome for the same lead supersedes it in `/api/experiments`."""
    on = body.date or dt.datetime.now(dt.UTC).date()
    (saved,) = await asyncio.to_thread(record_outcomes, store, [(lead_ref, body.outcome, on)])
    if saved is None:
        raise NotFound(f"no stored lead with id {lead_ref}")
    return {"status": "success", "data": saved}
