"""Service health: provider, model, whether it is configured, breakers, limits, budget, and
the weights of the overall score."""

from __future__ import annotations

from fastapi import APIRouter, Request

from leadq import __version__
from leadq.api.models import HealthResponse
from leadq.core.errors import StorageUnavailable
from leadq.core.scoring import ScoreWeights

# What health shows of the backend: never its URL or key. A breaker that is not closed makes
# the status "degraded" (leads still get answers from fallbacks, or clear errors).
HEALTH_DETAILS = (
    "structured_output",
    "breakers",
    "fallbacks",
    "escalation",
    "routing",
    "budget",
    "rate_limit",
)
router = APIRouter(prefix="/api/leads", tags=["health"])


def shares(weights: ScoreWeights) -> dict[str, float]:
    """Each component's share of `overall_score`, as `scoring.overall` normalises them."""
    given = weights.model_dump()
    total = sum(given.values())
    return {name: round(value / total, 4) for name, value in given.items()}


@router.get("/health", response_model=HealthResponse)
async def health(request: Request) -> HealthResponse:
    """Is the service up, and which provider and model answer (no key needed)."""
    qualifier = request.app.state.qualifier
    settings = request.app.state.settings
    store, cache = request.app.state.store, request.app.state.cache
    try:
        database = await store.call(store.status)
    except StorageUnavailable as exc:  # no answer in time
        database = {"backend": store.engine.dialect.name, "ok": False, "error": exc.message}
    try:
        cache_state = await store.call(cache.status)
    except StorageUnavailable:  # the database holds the pending erasures
        cache_state = {"redis": "off" if cache.redis is None else "unknown"}
    healthy = database["ok"] and cache_state["redis"] in ("off", "ok")
    if qualifier is None:
        return HealthResponse(
            status="degraded",
            version=__version__,
            provider=settings.effective_provider,
            model=settings.model or "-",
            configured=False,
            detail=request.app.state.qualifier_error.message,
            database=database,
            cache=cache_state,
            score_weights=shares(settings.score_weights),
        )
    backend = qualifier.describe()
    breaker_open = any(b["state"] != "closed" for b in backend.get("breakers", {}).values())
    return HealthResponse(
        status="healthy" if healthy and not breaker_open else "degraded",
        database=database,
        cache=cache_state,
        version=__version__,
        provider=backend["provider"],
        model=backend["model"],
        configured=backend["configured"],
        backend={k: v for k, v in backend.items() if k in HEALTH_DETAILS},
        score_weights=shares(settings.score_weights),
    )
