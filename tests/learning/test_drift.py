"""The drift rule on known numbers: too few outcomes, predictions borne out, predictions far
off, and a model past its age; the AUC and calibration on those outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadq.learning.drift import DRIFT_RULE, MIN_OUTCOMES, drift

NOW = datetime(2026, 12, 14, tzinfo=UTC)
FRESH = NOW - timedelta(days=2)


def test_too_few_outcomes_are_shown_but_not_judged() -> None:
    report = drift([(0.9, False)] * (MIN_OUTCOMES - 1), FRESH, NOW, 90)
    assert report["status"] == "not_enough_outcomes"
    assert report["reasons"] == []
    assert report["observed"] == 0.0
    assert report["predicted"] == 0.9
    assert report["rule"] == DRIFT_RULE
    assert report["auc"] is None  # no won lead to rank


def test_outcomes_as_predicted_are_current() -> None:
    # 100 leads at 30%: 30 won.
    pairs = [(0.3, i < 30) for i in range(100)]
    report = drift(pairs, FRESH, NOW, 90)
    assert report["status"] == "current"
    assert (report["outcomes"], report["won"]) == (100, 30)
    assert report["predicted"] == report["observed"] == 0.3
    low, high = report["expected_ci95"]
    # 1.96 * sqrt(100 * 0.3 * 0.7) / 100 = 0.0898
    assert (low, high) == (0.2102, 0.3898)
    assert report["observed_ci95"][0] < 0.3 < report["observed_ci95"][1]
    assert report["auc"] == 0.5  # one probability for all: no ranking
    assert report["calibration_table"][3] == {
        "bin": "30-40%",
        "leads": 100,
        "predicted": 0.3,
        "observed": 0.3,
    }


def test_observed_outside_the_interval_is_out_of_date() -> None:
    pairs = [(0.3, i < 50) for i in range(100)]  # 50% converted where 30% was predicted
    report = drift(pairs, FRESH, NOW, 90)
    assert report["status"] == "out_of_date"
    assert report["reasons"] == [
        "50.0% of the 100 leads it scored converted; it predicted 30.0% (95% interval 21.0%-39.0%)"
    ]


def test_an_old_model_is_out_of_date_whatever_its_outcomes() -> None:
    report = drift([], NOW - timedelta(days=120), NOW, 90)
    assert report["status"] == "out_of_date"
    assert report["reasons"] == ["trained 120 days ago, more than LEADQ_MODEL_MAX_AGE_DAYS (90)"]
    assert report["outcomes"] == 0
    assert report["predicted"] is None


def test_the_auc_ranks_won_above_lost_with_ties_half() -> None:
    pairs = [(0.9, True), (0.8, True), (0.8, False), (0.1, False)]
    # won 0.9 beats both lost; won 0.8 ties one and beats one: (2 + 1.5) / 4
    assert drift(pairs, FRESH, NOW, 90)["auc"] == 0.875
