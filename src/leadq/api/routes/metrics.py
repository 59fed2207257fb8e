"""`GET /metrics` in the Prometheus text format, for a scraper (not in the OpenAPI schema)."""

from __future__ import annotations

from contextlib import suppress

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from leadq.api.deps import require_api_key
from leadq.core.errors import StorageUnavailable
from leadq.observability.metrics import exposition, set_job_gauges
from leadq.storage.chunks import gauges

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Every leadq metric. Open by default, as scrapers seldom send app keys; with
    `LEADQ_METRICS_PUBLIC=0` it needs `X-API-Key` like the `/api/` routes."""
    settings = request.app.state.settings
    if not settings.metrics_public:
        require_api_key(settings, request.headers.get("X-API-Key"))
    store = request.app.state.store
    with suppress(StorageUnavailable):  # the database away: the rest is still served
        set_job_gauges(await store.call(gauges, store))
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
