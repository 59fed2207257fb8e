"""The lead endpoints, on the paths and with the envelopes that the original design's
clients call."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from leadq.api.batches import unless_client_leaves
from leadq.api.deps import ServiceDep, SettingsDep, require_api_key
from leadq.api.models import ERROR_RESPONSES, BatchResponse, FailedLead, QualifyResponse
from leadq.api.sse import event
from leadq.config import Settings
from leadq.core.errors import LeadqError, PayloadTooLarge
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, PartialResult, QualificationResult

log = logging.getLogger("leadq.api")
router = APIRouter(
    prefix="/api/leads",
    tags=["leads"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
)

_LEAD_LIST = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/LeadInput"},
                    "example": [LeadInput.model_config["json_schema_extra"]["example"]],  # type: ignore[index]
                }
            }
        },
    }
}
_SSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events; see the README for the event sequence.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
LeadList = Annotated[list[Any], Body()]


def _check_batch(leads: list[Any], settings: Settings) -> None:
    if len(leads) > settings.max_batch:
        raise PayloadTooLarge(
            f"batch of {len(leads)} leads is over the limit of "
            f"{settings.max_batch} (LEADQ_MAX_BATCH)"
        )


def _error_json(exc: BaseException, lead_id: str | None) -> dict[str, Any]:
    if not isinstance(exc, LeadqError):
        log.exception("unexpected error while streaming", exc_info=exc)
    return LeadError.from_exception(exc, lead_id).model_dump(mode="json")


@router.post("/qualify", response_model=QualifyResponse)
async def qualify(lead: LeadInput, service: ServiceDep) -> QualifyResponse:
    """Qualify one lead (stored; the result carries `qualification_id` and `lead_ref`)."""
    return QualifyResponse(data=await service.qualify(lead))


@router.post("/qualify-batch", response_model=BatchResponse, openapi_extra=_LEAD_LIST)
async def qualify_batch(
    leads: LeadList, service: ServiceDep, settings: SettingsDep, request: Request
) -> BatchResponse:
    """Qualify a list of leads: one entry per lead, in order; a failed lead holds its error.
    A client that disconnects stops the batch (the leads done so far are stored)."""
    _check_batch(leads, settings)
    slot = request.app.state.batch_slots.take()
    try:
        outcomes = await unless_client_leaves(request, service.batch(leads))
    finally:
        slot.release()
    data: list[QualificationResult | FailedLead] = [
        o if isinstance(o, QualificationResult) else FailedLead(index=i, error=o)
        for i, o in enumerate(outcomes)
    ]
    failed = sum(isinstance(d, FailedLead) for d in data)
    return BatchResponse(count=len(data), succeeded=len(data) - failed, failed=failed, data=data)


@router.post("/qualify-stream", response_class=EventSourceResponse, responses=_SSE)
async def qualify_stream(lead: LeadInput, service: ServiceDep) -> EventSourceResponse:
    """Stream one qualification: `partial` events as the model's fields arrive, then `result`
    (or `error`), then `done`."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        status = "success"
        try:
            async for item in service.stream(lead):
                if isinstance(item, PartialResult):
                    yield event("partial", {"data": item.fields})
                else:
                    yield event("result", {"data": item.model_dump(mode="json")})
        except Exception as exc:  # noqa: BLE001 - reported in the stream, typed
            status = "error"
            yield event("error", {"error": _error_json(exc, lead.lead_id)})
        yield event("done", {"status": status})

    return EventSourceResponse(events(), ping=15)


@router.post(
    "/qualify-as-completed",
    response_class=EventSourceResponse,
    responses=_SSE,
    openapi_extra=_LEAD_LIST,
)
async def qualify_as_completed(
    leads: LeadList, service: ServiceDep, settings: SettingsDep, request: Request
) -> EventSourceResponse:
    """Stream a batch: an `item` event per lead as it completes (`result` or `error`), then
    `done` with counts. One failure never ends the stream; disconnecting cancels the rest."""
    _check_batch(leads, settings)
    slot = request.app.state.batch_slots.take()

    async def events() -> AsyncIterator[ServerSentEvent]:
        ok = failed = 0
        try:
            async for index, outcome in service.as_completed(leads):
                if isinstance(outcome, QualificationResult):
                    ok += 1
                    result = outcome.model_dump(mode="json")
                    yield event("item", {"index": index, "result": result})
                else:
                    failed += 1
                    yield event("item", {"index": index, "error": outcome.model_dump(mode="json")})
            yield event("done", {"count": len(leads), "succeeded": ok, "failed": failed})
        finally:
            slot.release()

    # The slot is also released after the response, should the stream never start.
    return EventSourceResponse(events(), ping=15, background=BackgroundTask(slot.release))
