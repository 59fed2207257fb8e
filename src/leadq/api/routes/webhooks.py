"""`GET /api/webhooks/deliveries`: the webhook outbox's delivery log."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from leadq.api.deps import StoreDep, require_api_key
from leadq.api.models import ERROR_RESPONSES, WebhookDeliveries
from leadq.storage.webhooks import counts, deliveries

router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)


@router.get("/deliveries", response_model=WebhookDeliveries)
async def list_deliveries(
    store: StoreDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The newest webhook messages (of one status, if given): attempts, the last error, when
    the next attempt is due. Payloads are not shown: they carry the leads' details."""
    found, totals = await asyncio.gather(
        store.call(deliveries, store, status, limit), store.call(counts, store)
    )
    return {"status": "success", "counts": totals, "data": found}
