"""Stored leads and qualifications: list, history, one result, erasure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from leadq.api.deps import StoreDep, require_api_key
from leadq.api.models import (
    ERROR_RESPONSES,
    ErasedResponse,
    ErrorResponse,
    LeadPage,
    LeadResponse,
    QualificationResponse,
)
from leadq.core.errors import NotFound
from leadq.core.result import Action

router = APIRouter(
    prefix="/api",
    tags=["records"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)
# Ids are positive 64-bit integers; larger values are 422, not a database overflow.
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Sort = Literal["score", "-score", "updated", "-updated", "name", "-name"]
OutcomeFilter = Literal["won", "lost", "no_response", "disqualified", "none"]
_404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such record."}
}


@router.get("/leads", response_model=LeadPage)
async def list_leads(
    store: StoreDep,
    action: Action | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    q: Annotated[
        str | None,
        # NUL cannot be stored or searched in PostgreSQL text: refused here, not a 500 there.
        Query(max_length=200, pattern=r"^[^\x00]*$", description="Search name, company, id"),
    ] = None,
    sort: Sort = "-score",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    outcome: Annotated[
        OutcomeFilter | None,
        Query(description="Leads whose latest outcome is this; `none`: without an outcome"),
    ] = None,
) -> dict[str, Any]:
    """Stored leads with their latest score, action and outcome."""
    total, page = await store.call(
        store.list_leads,
        outcome=outcome,
        action=action.value if action else None,
        min_score=min_score,
        search=q,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return {"status": "success", "total": total, "limit": limit, "offset": offset, "data": page}


@router.get("/leads/{lead_ref}", response_model=LeadResponse, responses=_404)
async def get_lead(lead_ref: RecordId, store: StoreDep) -> dict[str, Any]:
    """One lead with its score history over time and every qualification."""
    lead = await store.call(store.get_lead, lead_ref)
    if lead is None:
        raise NotFound(f"no stored lead with id {lead_ref}")
    return {"status": "success", "data": lead}


@router.delete("/leads/{lead_ref}", response_model=ErasedResponse, responses=_404)
async def erase_lead(lead_ref: RecordId, store: StoreDep, request: Request) -> dict[str, Any]:
    """Erase a lead: its record, qualifications, call log rows, job results and cache
    entries. `cache: "pending"` means Redis could not confirm yet: its entries are removed
    as soon as it answers, and no Redis hit is served until then."""
    existed, cleared = await store.call(request.app.state.cache.erase, lead_ref)
    if not existed:
        raise NotFound(f"no stored lead with id {lead_ref}")
    return {"status": "success", "erased": lead_ref, "cache": "cleared" if cleared else "pending"}


@router.get(
    "/qualifications/{qualification_id}", response_model=QualificationResponse, responses=_404
)
async def get_qualification(qualification_id: RecordId, store: StoreDep) -> dict[str, Any]:
    """One stored qualification, with the input it was computed from."""
    found = await store.call(store.get_qualification, qualification_id)
    if found is None:
        raise NotFound(f"no qualification with id {qualification_id}")
    return {"status": "success", "data": found}
