"""`GET /api/experiments`: how each prompt variant scores, costs and converts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends

from leadq.api.deps import SettingsDep, StoreDep, require_api_key
from leadq.api.models import ERROR_RESPONSES, ExperimentsResponse
from leadq.api.routes.stats import When, period
from leadq.core.experiments import report
from leadq.storage.stats import outcome_rows, variant_stats
from leadq.storage.store import Store

router = APIRouter(
    prefix="/api",
    tags=["experiments"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)


def _report(store: Store, since: datetime, until: datetime) -> dict[str, Any]:
    return report(variant_stats(store, since, until), outcome_rows(store, since, until))


@router.get("/experiments", response_model=ExperimentsResponse)
async def experiments(
    store: StoreDep, settings: SettingsDep, since: When = None, until: When = None
) -> dict[str, Any]:
    """Per prompt variant (the rules engine shows as `rules`): leads, mean scores, action mix,
    tokens and cost per lead, and, once outcomes are recorded, the conversion rate overall
    and by action with 95% Wilson intervals; then each pair of variants compared (z-test,
    or Fisher's exact test for small counts). Default period: everything stored."""
    start, end = period(since, until, None)
    data = await store.call(_report, store, start, end)
    variants = settings.variants
    data["configured"] = {"salt": variants.salt, "weights": variants.shares}
    return {"status": "success", "since": start.isoformat(), "until": end.isoformat(), **data}
