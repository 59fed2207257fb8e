"""`GET /api/stats`: leads, spend, tokens, latency, action mix, error rate and conversion by
action over a period, and the active conversion model's drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from leadq.api.deps import SettingsDep, StoreDep, require_api_key
from leadq.api.models import ERROR_RESPONSES, StatsResponse
from leadq.learning.drift import active_model_drift
from leadq.storage.stats import period_stats

router = APIRouter(
    prefix="/api",
    tags=["stats"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)
When = Annotated[
    datetime | None,
    Query(description="ISO 8601 date or datetime; without a zone it is UTC."),
]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # where a period starts with no `since` or span


def period(
    since: datetime | None, until: datetime | None, default_span: timedelta | None
) -> tuple[datetime, datetime]:
    """`[since, until)` in UTC: until defaults to now, since to `default_span` before until
    (or 1970). A 422 names the parameter at fault: out of range once in UTC (a zoned year 1
    or 9999), or since not before until."""
    try:
        end = _utc(until) if until is not None else datetime.now(UTC)
    except OverflowError:
        raise _invalid("until", "out of range") from None
    if since is not None:
        try:
            start = _utc(since)
        except OverflowError:
            raise _invalid("since", "out of range") from None
        if start >= end:
            raise _invalid("since", "must be before until")
        return start, end
    try:
        start = end - default_span if default_span is not None else EPOCH
    except OverflowError:
        raise _invalid("until", "out of range") from None
    if start >= end:
        raise _invalid("until", f"must be after {start.date()}, the default since")
    return start, end


def _invalid(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value"}])


@router.get("/stats", response_model=StatsResponse)
async def stats(
    store: StoreDep, settings: SettingsDep, since: When = None, until: When = None
) -> dict[str, Any]:
    """Leads, cost, tokens, p50/p95 latency, action mix and provider error rate, in total and
    per provider and model, and per route of LEADQ_ROUTE_ABOVE (routed or default) and who
    answered, over `[since, until)` (default: the last 24 hours); and, for the
    leads whose latest outcome is dated on a day of the period, conversion (won / (won +
    lost)) by the action recommended when it was recorded. `model`: the active conversion
    model's drift, its predictions beside every won/lost outcome of the leads it scored."""
    start, end = period(since, until, timedelta(days=1))
    data = await store.call(period_stats, store, start, end)
    # The active conversion model's drift: over every outcome since it scored, not the period's.
    data["model"] = await store.call(active_model_drift, store, settings.model_max_age_days)
    return {"status": "success", "data": data}
