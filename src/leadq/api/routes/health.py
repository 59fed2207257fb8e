"""Service health: provider, model, whether it is configured."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from leadq import __version__
from leadq.api.models import HealthResponse

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
    return HealthResponse(
        status="healthy" if database["ok"] else "degraded",
        database=database,
        version=__version__,
        provider=backend["provider"],
        model=backend["model"],
        configured=backend["configured"],
        backend={k: v for k, v in backend.items() if k == "structured_output"},
    )
