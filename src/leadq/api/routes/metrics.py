"""`GET /metrics` in the Prometheus text format, for a scraper (not in the OpenAPI schema)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from leadq.api.deps import require_api_key
from leadq.observability.metrics import exposition

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Every leadq metric. Open by default, as scrapers seldom send app keys; with
    `LEADQ_METRICS_PUBLIC=0` it needs `X-API-Key` like the `/api/` routes."""
    settings = request.app.state.settings
    if not settings.metrics_public:
        require_api_key(settings, request.headers.get("X-API-Key"))
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
