"""Service health: provider, model, whether it is configured, breakers, limits, budget."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from leadq import __version__
from leadq.api.models import HealthResponse

# What health shows of the backend: never its URL or key. A breaker that is not closed makes
# the status "degraded" (leads still get answers from fallbacks, or clear errors).
HEALTH_DETAILS = (
    "structured_output",
    "breakers",
    "fallbacks",
    "escalation",
    "budget",
    "rate_limit",
)
router = APIRouter(prefix="/api/leads", tags=["health"])


@router.get("/health", response_model=HealthResponse)
async def health(request: Request) -> HealthResponse:
    """Is the service up, and which provider and model answer (no key needed)."""
    qualifier = request.app.state.qualifier
    settings = request.app.state.settings
    database = await asyncio.to_thread(request.app.state.store.status)
    if qualifier is None:
        return HealthResponse(
            status="degraded",
            version=__version__,
            provider=settings.effective_provider,
            model=settings.model or "-",
            configured=False,
            detail=request.app.state.qualifier_error.message,
            database=database,
        )
    backend = qualifier.describe()
    breaker_open = any(b["state"] != "closed" for b in backend.get("breakers", {}).values())
    return HealthResponse(
        status="healthy" if database["ok"] and not breaker_open else "degraded",
        database=database,
        version=__version__,
        provider=backend["provider"],
        model=backend["model"],
        configured=backend["configured"],
        backend={k: v for k, v in backend.items() if k in HEALTH_DETAILS},
    )
