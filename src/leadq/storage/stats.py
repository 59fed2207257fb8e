"""Aggregates over a period, from the stored `qualifications`, `provider_calls` and
`outcomes`, in SQL that SQLite and PostgreSQL both run. Percentiles are nearest-rank,
read with `ORDER BY ... OFFSET k` so no latency list leaves the database."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadq.core.outcomes import conversion_by_action
from leadq.core.result import Flag
from leadq.storage.models import LeadOutcome, ProviderCall, Qualification
from leadq.storage.outcomes import latest_outcome_ids
from leadq.storage.store import Store

Group = tuple[str, str]  # (provider, model)
# A stored result the router sent to LEADQ_ROUTE_TO: its flags (a JSON list) hold "routed".
ROUTED = cast(Qualification.flags, String).like(f'%"{Flag.ROUTED.value}"%')


def _percentiles(
    s: Session,
    column: InstrumentedAttribute[float],
    where: list[ColumnElement[bool]],
    n: int,
) -> dict[str, float | None]:
    """p50 and p95 of `column` over `n` rows matching `where` (nearest rank)."""
    out: dict[str, float | None] = {}
    for name, p in (("p50", 0.50), ("p95", 0.95)):
        if n == 0:
            out[name] = None
            continue
        rank = max(1, math.ceil(p * n))
        query = select(column).where(*where).order_by(column).offset(rank - 1).limit(1)
        out[name] = s.scalar(query)
    return out


def _blank() -> dict[str, Any]:
    return {
        "leads": 0,
        "cached": 0,
        "actions": {},
        "calls": 0,
        "failed_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
    }


def period_stats(store: Store, since: datetime, until: datetime) -> dict[str, Any]:
    """Leads, spend, tokens, latency percentiles, action mix and call error rate over
    [since, until), in total and per provider and model; and conversion by action."""
    q_when = [Qualification.created_at >= since, Qualification.created_at < until]
    c_when = [ProviderCall.created_at >= since, ProviderCall.created_at < until]
    groups: dict[Group, dict[str, Any]] = defaultdict(_blank)
    total = _blank()
    with store.session() as s:
        leads = s.execute(
            select(
                Qualification.provider,
                Qualification.model,
                Qualification.recommended_action,
                func.count(),
                func.sum(case((Qualification.cached, 1), else_=0)),
            )
            .where(*q_when)
            .group_by(Qualification.provider, Qualification.model, Qualification.recommended_action)
        )
        for provider, model, action, n, cached in leads:
            for bucket in (groups[(provider, model)], total):
                bucket["leads"] += n
                bucket["cached"] += cached or 0
                bucket["actions"][action] = bucket["actions"].get(action, 0) + n
        calls = s.execute(
            select(
                ProviderCall.provider,
                ProviderCall.model,
                func.count(),
                func.sum(case((ProviderCall.status != "ok", 1), else_=0)),
                func.coalesce(func.sum(ProviderCall.input_tokens), 0),
                func.coalesce(func.sum(ProviderCall.output_tokens), 0),
                func.coalesce(func.sum(ProviderCall.cost_usd), 0.0),
            )
            .where(*c_when)
            .group_by(ProviderCall.provider, ProviderCall.model)
        )
        for provider, model, n, failed, tin, tout, cost in calls:
            for bucket in (groups[(provider, model)], total):
                bucket["calls"] += n
                bucket["failed_calls"] += failed or 0
                bucket["input_tokens"] += tin
                bucket["output_tokens"] += tout
                bucket["cost_usd"] += cost
        for (provider, model), bucket in groups.items():
            _finish(s, bucket, q_when, c_when, provider, model)
        _finish(s, total, q_when, c_when)
        conversion = conversion_by_action(_outcomes_by_action(s, since, until))
        by_route = _by_route(s, q_when)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "totals": total,
        "by_provider": [{"provider": p, "model": m, **groups[(p, m)]} for p, m in sorted(groups)],
        "by_route": by_route,
        "conversion_by_action": conversion,
    }


def _by_route(s: Session, q_when: list[ColumnElement[bool]]) -> list[dict[str, Any]]:
    """Leads, cached hits, the results' cost and latency percentiles per route ("routed": the
    router sent the lead to LEADQ_ROUTE_TO; "default": the rest) and who answered."""
    Q = Qualification
    rows = s.execute(
        select(
            ROUTED,
            Q.provider,
            Q.model,
            func.count(),
            func.sum(case((Q.cached, 1), else_=0)),
            func.coalesce(func.sum(Q.cost_usd), 0.0),
        )
        .where(*q_when)
        .group_by(ROUTED, Q.provider, Q.model)
    ).all()
    out = []
    for routed, provider, model, n, cached, cost in rows:
        where = [*q_when, ROUTED if routed else ~ROUTED, Q.provider == provider, Q.model == model]
        out.append(
            {
                "route": "routed" if routed else "default",
                "provider": provider,
                "model": model,
                "leads": n,
                "cached": cached or 0,
                "cost_usd": round(cost, 8),
                "latency_ms": _percentiles(s, Q.latency_ms, where, n),
            }
        )
    return sorted(out, key=lambda r: (r["route"] != "routed", r["provider"], r["model"]))


def _outcomes_by_action(
    s: Session, since: datetime, until: datetime
) -> list[tuple[str | None, str, int]]:
    """`(action, outcome, leads)` over the leads whose latest outcome is dated on a day of
    [since, until); the action of the qualification it was recorded against (None when
    that qualification is no longer stored)."""
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    rows = s.execute(
        select(Qualification.recommended_action, LeadOutcome.outcome, func.count())
        .select_from(LeadOutcome)
        .outerjoin(Qualification, Qualification.id == LeadOutcome.qualification_id)
        .where(
            LeadOutcome.id.in_(latest_outcome_ids()),
            LeadOutcome.outcome_date >= first,
            LeadOutcome.outcome_date <= last,
        )
        .group_by(Qualification.recommended_action, LeadOutcome.outcome)
    ).all()
    return [(action, outcome, n) for action, outcome, n in rows]


def _finish(
    s: Session,
    bucket: dict[str, Any],
    q_when: list[ColumnElement[bool]],
    c_when: list[ColumnElement[bool]],
    provider: str | None = None,
    model: str | None = None,
) -> None:
    """Add the error rate and latency percentiles to one group's (or the total's) counts."""
    if provider is not None:
        q_when = [*q_when, Qualification.provider == provider, Qualification.model == model]
        c_when = [*c_when, ProviderCall.provider == provider, ProviderCall.model == model]
    bucket["cost_usd"] = round(bucket["cost_usd"], 8)
    bucket["error_rate"] = (
        round(bucket["failed_calls"] / bucket["calls"], 6) if bucket["calls"] else None
    )
    bucket["latency_ms"] = _percentiles(s, Qualification.latency_ms, q_when, bucket["leads"])
    bucket["call_latency_ms"] = _percentiles(s, ProviderCall.latency_ms, c_when, bucket["calls"])


SCORES = ("overall_score", "fit_score", "budget_score", "urgency_score", "authority_score")


def variant_stats(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per prompt version over [since, until): qualifications, distinct leads, mean scores,
    action mix, tokens and cost per qualification."""
    when = [Qualification.created_at >= since, Qualification.created_at < until]
    Q = Qualification
    with store.session() as s:
        rows = s.execute(
            select(
                Q.prompt_version,
                func.count(),
                func.count(func.distinct(Q.lead_ref)),
                *(func.avg(getattr(Q, name)) for name in (*SCORES, "confidence")),
                func.avg(Q.input_tokens + Q.output_tokens),
                func.avg(Q.cost_usd),
            )
            .where(*when)
            .group_by(Q.prompt_version)
            .order_by(Q.prompt_version)
        ).all()
        mix = s.execute(
            select(Q.prompt_version, Q.recommended_action, func.count())
            .where(*when)
            .group_by(Q.prompt_version, Q.recommended_action)
        ).all()
    actions: dict[str, dict[str, int]] = defaultdict(dict)
    for version, action, n in mix:
        actions[version][action] = n
    out = []
    for version, n, distinct, *means, tokens, cost in rows:
        names = (*SCORES, "confidence")
        out.append(
            {
                "variant": version,
                "qualifications": n,
                "leads": distinct,
                "mean_scores": {k: round(float(v), 4) for k, v in zip(names, means, strict=True)},
                "actions": actions[version],
                "tokens_per_lead": round(float(tokens or 0), 2),
                "cost_per_lead_usd": round(float(cost), 8) if cost is not None else None,
            }
        )
    return out


def outcome_rows(store: Store, since: datetime, until: datetime) -> list[tuple[str, str, str]]:
    """`(variant, action, outcome)` for each lead's latest outcome whose qualification falls
    in [since, until)."""
    latest = latest_outcome_ids().scalar_subquery()
    with store.session() as s:
        rows = s.execute(
            select(
                Qualification.prompt_version, Qualification.recommended_action, LeadOutcome.outcome
            )
            .join(Qualification, Qualification.id == LeadOutcome.qualification_id)
            .where(
                LeadOutcome.id.in_(latest),
                Qualification.created_at >= since,
                Qualification.created_at < until,
            )
        ).all()
    return [(v, a, o) for v, a, o in rows]
