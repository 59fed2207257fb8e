import pytest

from leadq.core.result import Action, Flag
from leadq.core.scoring import (
    ScoreWeights,
    band_action,
    clamp,
    missing_critical_fields,
    overall,
    settle_action,
)


def test_clamp() -> None:
    assert clamp(10.5) == (1.0, True)
    assert clamp(-0.2) == (0.0, True)
    assert clamp(0.4) == (0.4, False)
    with pytest.raises(ValueError, match="not a finite number"):
        clamp(float("nan"))


def test_overall_is_weighted_mean() -> None:
    scores = {"fit_score": 1.0, "budget_score": 0.0, "urgency_score": 0.5, "authority_score": 0.5}
    assert overall(scores, ScoreWeights()) == round(0.35 + 0.2 * 0.5 + 0.2 * 0.5, 3)
    assert overall(scores, ScoreWeights(fit=1, budget=1, urgency=0, authority=0)) == 0.5


@pytest.mark.parametrize(
    ("score", "action"),
    [
        (0.9, Action.IMMEDIATE_OUTREACH),
        (0.75, Action.IMMEDIATE_OUTREACH),
        (0.6, Action.QUALIFIED_NURTURE),
        (0.4, Action.FOLLOWUP_RESEARCH),
        (0.1, Action.NOT_QUALIFIED),
    ],
)
def test_bands(score: float, action: Action) -> None:
    assert band_action(score) is action


def test_contradicting_action_is_replaced_and_flagged() -> None:
    action, flags = settle_action(Action.IMMEDIATE_OUTREACH, 0.2, 0.9, missing_critical=False)
    assert action is Action.NOT_QUALIFIED
    assert flags == [Flag.ACTION_ADJUSTED]


def test_agreeing_action_is_kept_unflagged() -> None:
    assert settle_action(Action.QUALIFIED_NURTURE, 0.6, 0.9, missing_critical=False) == (
        Action.QUALIFIED_NURTURE,
        [],
    )


def test_missing_info_forces_manual_review() -> None:
    action, flags = settle_action(Action.IMMEDIATE_OUTREACH, 0.9, 0.9, missing_critical=True)
    assert action is Action.MANUAL_REVIEW
    assert flags == [Flag.MISSING_CRITICAL_INFO, Flag.ACTION_ADJUSTED]


def test_low_confidence_manual_review_is_kept_but_confident_one_is_banded() -> None:
    assert settle_action(Action.MANUAL_REVIEW, 0.9, 0.2, missing_critical=False)[0] is (
        Action.MANUAL_REVIEW
    )
    assert settle_action(Action.MANUAL_REVIEW, 0.9, 0.9, missing_critical=False)[0] is (
        Action.IMMEDIATE_OUTREACH
    )


def test_missing_critical_fields() -> None:
    assert missing_critical_fields({"industry": "x", "job_title": "y", "annual_revenue": "1"}) == []
    assert missing_critical_fields({}) == ["industry", "job_title", "company_size/annual_revenue"]
