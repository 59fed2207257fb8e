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


def _sse(description: str, example: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": example}},
        }
    }


_STREAM_EVENTS = _sse(
    "Server-Sent Events. `event:` names the kind and each `data:` line is the object "
    "itself: `partial` events with the fields the model has produced so far (scores "
    "clamped), then `result` with the full result (a `QualificationResult`: the last data "
    'line of a successful stream), or `error` with `{"error": LeadError}` (its `error` '
    "code and `message`). The rules engine and cache hits send `result` alone.",
    'event: partial\ndata: {"fit_score":0.8,"budget_score":0.7}\n\n'
    'event: result\ndata: {"overall_score":0.755,"fit_score":0.8,...}\n\n',
)
_AS_COMPLETED_EVENTS = _sse(
    "Server-Sent Events: one `item` event per lead as it completes, in completion order, "
    'its data `{"index": i, "result": QualificationResult}` or `{"index": i, '
    '"error": LeadError}` (`index`: the lead\'s position in the request). The stream '
    "ends after the last lead's item; a lead whose index never came was cut off.",
    'event: item\ndata: {"index":1,"error":{"error":"invalid_input","message":"..."}}\n\n'
    'event: item\ndata: {"index":0,"result":{"overall_score":0.755,...}}\n\n',
)
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


def _id(raw: Any) -> str | None:
    """The caller's `lead_id` of a lead as it was sent, if it has one."""
    lead_id = raw.get("lead_id") if isinstance(raw, dict) else None
    return (lead_id.strip() or None) if isinstance(lead_id, str) else None


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


@router.post("/qualify-stream", response_class=EventSourceResponse, responses=_STREAM_EVENTS)
async def qualify_stream(lead: LeadInput, service: ServiceDep) -> EventSourceResponse:
    """Stream one qualification: `partial` events as the model's fields arrive, then `result`
    (or `error`), which ends the stream."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for item in service.stream(lead):
                if isinstance(item, PartialResult):
                    yield event("partial", item.fields)
                else:
                    yield event("result", item.model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001 - reported in the stream, typed
            yield event("error", {"error": _error_json(exc, lead.lead_id)})

    return EventSourceResponse(events(), ping=15)


@router.post(
    "/qualify-as-completed",
    response_class=EventSourceResponse,
    responses=_AS_COMPLETED_EVENTS,
    openapi_extra=_LEAD_LIST,
)
async def qualify_as_completed(
    leads: LeadList, service: ServiceDep, settings: SettingsDep, request: Request
) -> EventSourceResponse:
    """Stream a batch: an `item` event per lead as it completes (`result` or `error`). One
    failure never ends the stream; disconnecting cancels the rest. Should the stream itself
    fail, each lead not yet reported gets its error item."""
    _check_batch(leads, settings)
    slot = request.app.state.batch_slots.take()

    async def events() -> AsyncIterator[ServerSentEvent]:
        reported: set[int] = set()
        try:
            async for index, outcome in service.as_completed(leads):
                reported.add(index)
                if isinstance(outcome, QualificationResult):
                    result = outcome.model_dump(mode="json")
                    yield event("item", {"index": index, "result": result})
                else:
                    yield event("item", {"index": index, "error": outcome.model_dump(mode="json")})
        except Exception as exc:  # noqa: BLE001 - every lead still gets its outcome, typed
            error = _error_json(exc, None)
            for index, raw in enumerate(leads):
                if index not in reported:
                    yield event("item", {"index": index, "error": {**error, "lead_id": _id(raw)}})
        finally:
            slot.release()

    # The slot is also released after the response, should the stream never start.
    return EventSourceResponse(events(), ping=15, background=BackgroundTask(slot.release))
