"""Is a conversion model still right? Over the leads it scored that later got a won or lost
outcome, its mean predicted probability beside the observed conversion, a calibration table
and the AUC; and whether it is out of date (`DRIFT_RULE`). Pure Python: the server reports it
without numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from leadq.storage import conversion_models as registry
from leadq.storage.store import Store

MIN_OUTCOMES = 30  # won/lost outcomes before predicted and observed are compared
Z95 = 1.96
BINS = 10

DRIFT_RULE = (
    '"out of date" when the model was trained more than LEADQ_MODEL_MAX_AGE_DAYS days ago, '
    f"or when, with at least {MIN_OUTCOMES} won/lost outcomes on the leads it scored, the "
    "observed conversion falls outside the 95% interval of what it predicted (the mean "
    "probability +- 1.96 standard deviations of a mean of independent outcomes with those "
    "probabilities)"
)


def _auc(pairs: Sequence[tuple[float, bool]]) -> float | None:
    """The probability that a won lead was given more than a lost one (ties half)."""
    won = sum(1 for _, w in pairs if w)
    lost = len(pairs) - won
    if not won or not lost:
        return None
    ranked = sorted(pairs, key=lambda pair: pair[0])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2  # ranks i+1..j share their mean
        rank_sum += mean_rank * sum(1 for _, w in ranked[i:j] if w)
        i = j
    return (rank_sum - won * (won + 1) / 2) / (won * lost)


def _wilson(successes: int, n: int) -> list[float]:
    """The 95% Wilson interval of a proportion."""
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _calibration(pairs: Sequence[tuple[float, bool]]) -> list[dict[str, Any]]:
    """Per probability bin (0-10%, ...), as the training report's table: leads, mean
    predicted, observed conversion."""
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(BINS)]
    for p, won in pairs:
        groups[min(int(p * BINS), BINS - 1)].append((p, won))
    return [
        {
            "bin": f"{b * 100 // BINS}-{(b + 1) * 100 // BINS}%",
            "leads": len(group),
            "predicted": round(sum(p for p, _ in group) / len(group), 4) if group else None,
            "observed": round(sum(1 for _, w in group if w) / len(group), 4) if group else None,
        }
        for b, group in enumerate(groups)
    ]


def drift(
    pairs: Sequence[tuple[float, bool]],
    trained_at: datetime,
    now: datetime,
    max_age_days: int,
) -> dict[str, Any]:
    """`pairs`: (predicted probability, won) of each lead the model scored whose latest
    outcome is won or lost. The comparison and the verdict of `DRIFT_RULE`."""
    n = len(pairs)
    won = sum(1 for _, w in pairs if w)
    age_days = (now - trained_at).total_seconds() / 86400
    out: dict[str, Any] = {
        "outcomes": n,
        "won": won,
        "predicted": None,
        "observed": None,
        "observed_ci95": None,
        "expected_ci95": None,
        "auc": None,
        "calibration_table": _calibration(pairs),
        "age_days": round(age_days, 1),
        "max_age_days": max_age_days,
        "min_outcomes": MIN_OUTCOMES,
    }
    reasons = []
    if age_days > max_age_days:
        reasons.append(
            f"trained {age_days:.0f} days ago, more than LEADQ_MODEL_MAX_AGE_DAYS ({max_age_days})"
        )
    if n:
        predicted = sum(p for p, _ in pairs) / n
        observed = won / n
        half = Z95 * math.sqrt(sum(p * (1 - p) for p, _ in pairs)) / n
        low, high = max(0.0, predicted - half), min(1.0, predicted + half)
        auc = _auc(pairs)
        out.update(
            predicted=round(predicted, 4),
            observed=round(observed, 4),
            observed_ci95=_wilson(won, n),
            expected_ci95=[round(low, 4), round(high, 4)],
            auc=None if auc is None else round(auc, 4),
        )
        if n >= MIN_OUTCOMES and not low <= observed <= high:
            reasons.append(
                f"{observed:.1%} of the {n} leads it scored converted; it predicted "
                f"{predicted:.1%} (95% interval {low:.1%}-{high:.1%})"
            )
    if reasons:
        status = "out_of_date"
    elif n < MIN_OUTCOMES:
        status = "not_enough_outcomes"
    else:
        status = "current"
    return {**out, "status": status, "reasons": reasons, "rule": DRIFT_RULE}


def model_drift(s: Session, model_id: int, max_age_days: int) -> dict[str, Any] | None:
    """`drift` of stored model `model_id` over the outcomes stored so far (None: no model)."""
    trained = registry.trained_at(s, model_id)
    if trained is None:
        return None
    return drift(registry.scored_outcomes(s, model_id), trained, datetime.now(UTC), max_age_days)


def active_model_drift(store: Store, max_age_days: int) -> dict[str, Any] | None:
    """The active model as listings show it, with its `drift` (None: no model is active)."""
    with store.session() as s:
        active = registry.active_model(s)
        if active is None:
            return None
        return {**active, "drift": model_drift(s, active["id"], max_age_days)}
