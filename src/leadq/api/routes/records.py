"""Stored leads and qualifications: list, export, history, one result, erasure."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Generator, Iterable
from contextlib import suppress
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

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
from leadq.leadfiles import EXPORT_COLUMNS, export_record, write_records
from leadq.storage.store import Store

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


EXPORT_CHUNK = 500  # leads per piece of the streamed export
_CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 CSV with a byte-order mark: `leadq export`'s columns.",
    }
}


def _csv(records: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    write_records(out, "csv", records, columns=EXPORT_COLUMNS)
    return out.getvalue()


def _export_pieces(store: Store) -> Generator[str]:
    """The export in pieces of EXPORT_CHUNK leads, read as it is sent: the first with the
    byte-order mark (Excel reads the file as UTF-8 then) and the header."""
    leads = enumerate(store.latest_with_outcomes(), 1)
    header = _csv([])
    start = "\ufeff" + header
    while (chunk := list(islice(leads, EXPORT_CHUNK))) or start:
        yield start + _csv(export_record(n, lead) for n, lead in chunk).removeprefix(header)
        start = ""


async def _streamed(store: Store, first: str, pieces: Generator[str]) -> AsyncIterator[str]:
    try:
        yield first
        while (piece := await store.call(next, pieces, None)) is not None:
            yield piece
    finally:
        with suppress(ValueError):  # still reading on a store thread: closed when collected
            pieces.close()


@router.get("/leads/export.csv", response_class=StreamingResponse, responses=_CSV_ANSWER)
async def export_leads(store: StoreDep) -> StreamingResponse:
    """The latest result of every stored lead with a result, as CSV: the columns of
    `leadq qualify -o out.csv`, then the lead's email, its latest outcome and that outcome's
    date, and its attributes as one JSON object (`leadq export`'s columns). Scores are in
    [0, 1]; a cell a spreadsheet would run as a formula starts with `'`. Streamed as it is
    read."""
    pieces = _export_pieces(store)
    first = await store.call(next, pieces)  # a database outage is a 503, not a cut download
    return StreamingResponse(
        _streamed(store, first, pieces),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


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
