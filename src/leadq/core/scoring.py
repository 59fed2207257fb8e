"""The rules every result obeys, whoever produced it: bounded scores, the weighted overall
score, and the documented score bands that decide the action."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field, model_validator

from leadq.core.result import Action, Flag

COMPONENTS = ("fit_score", "budget_score", "urgency_score", "authority_score")


class ScoreWeights(BaseModel):
    """Weights of the four component scores in `overall_score` (normalised to sum to 1)."""

    fit: float = Field(0.35, ge=0)
    budget: float = Field(0.25, ge=0)
    urgency: float = Field(0.20, ge=0)
    authority: float = Field(0.20, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> ScoreWeights:
        if self.fit + self.budget + self.urgency + self.authority <= 0:
            raise ValueError("LEADQ_SCORE_WEIGHTS: at least one weight must be positive")
        return self


# Documented bands of overall_score -> action (README "Scores and actions").
BANDS: tuple[tuple[float, Action], ...] = (
    (0.75, Action.IMMEDIATE_OUTREACH),
    (0.55, Action.QUALIFIED_NURTURE),
    (0.35, Action.FOLLOWUP_RESEARCH),
    (0.0, Action.NOT_QUALIFIED),
)
# Below this confidence a model's own choice of manual_review is kept.
LOW_CONFIDENCE = 0.4


def clamp(value: float) -> tuple[float, bool]:
    """`value` limited to [0, 1], and whether it had to be changed."""
    if not math.isfinite(value):
        raise ValueError("score is not a finite number")
    if value < 0.0:
        return 0.0, True
    if value > 1.0:
        return 1.0, True
    return value, False


def overall(scores: dict[str, float], weights: ScoreWeights) -> float:
    """Weighted mean of the four component scores, rounded to 3 places."""
    # Written out rather than summed over COMPONENTS (the same sums in the same order): this
    # runs once per lead, and again for each partial result of a stream, on the hot path.
    total = weights.fit + weights.budget + weights.urgency + weights.authority
    value = (
        weights.fit * scores["fit_score"]
        + weights.budget * scores["budget_score"]
        + weights.urgency * scores["urgency_score"]
        + weights.authority * scores["authority_score"]
    ) / total
    return round(min(1.0, max(0.0, value)), 3)


def band_action(overall_score: float, bands: Sequence[tuple[float, Action]] = BANDS) -> Action:
    """The action the documented bands give for an overall score (or `bands` of another
    scale: a conversion model's probability bands), the first whose threshold it reaches."""
    for threshold, action in bands:
        if overall_score >= threshold:
            return action
    return Action.NOT_QUALIFIED


def settle_action(
    proposed: Action,
    overall_score: float,
    confidence: float,
    *,
    missing_critical: bool,
    forced_review: bool = False,
) -> tuple[Action, list[Flag]]:
    """The action a result carries, and the flags that explain any change.

    Missing critical information (or a forced review) always means manual_review. A proposed
    manual_review is kept when confidence is low; any other proposal that contradicts the
    band of `overall_score` is replaced by the band's action and flagged."""
    flags: list[Flag] = []
    if missing_critical:
        flags.append(Flag.MISSING_CRITICAL_INFO)
    if missing_critical or forced_review:
        if proposed is not Action.MANUAL_REVIEW:
            flags.append(Flag.ACTION_ADJUSTED)
        return Action.MANUAL_REVIEW, flags
    if proposed is Action.MANUAL_REVIEW and confidence < LOW_CONFIDENCE:
        return proposed, flags
    banded = band_action(overall_score)
    if proposed is not banded:
        flags.append(Flag.ACTION_ADJUSTED)
    return banded, flags


def missing_critical_fields(present: dict[str, str]) -> list[str]:
    """Critical facts the lead lacks: industry, job title, and some measure of size."""
    missing = [f for f in ("industry", "job_title") if f not in present]
    if "company_size" not in present and "annual_revenue" not in present:
        missing.append("company_size/annual_revenue")
    return missing
