"""A lead's factors name what moved its probability, in words, each way."""

from __future__ import annotations

import pytest

from leadq.learning.scorer import Scorer
from leadq.learning.train import train
from tests.learning.synthetic import training_set


def test_factors_name_the_feature_that_raised_or_lowered_the_probability() -> None:
    ts = training_set(600)
    scorer = Scorer(train(ts).scorer)
    a = next(r for r in ts.records if r["attr.Channel"] == "A")
    b = next(r for r in ts.records if r["attr.Channel"] == "B")
    scored_a, scored_b = scorer.score(a), scorer.score(b)
    assert scored_a.probability > scored_b.probability + 0.3
    assert scored_a.factors[0].startswith("Channel is A: +")
    assert scored_a.factors[0].endswith(" points")
    assert any(f.startswith("Channel is B: -") for f in scored_b.factors)
    assert len(scored_a.factors) <= 6


def test_a_factor_of_one_point_says_point() -> None:
    column = {"key": "attr.Visits", "kind": "number", "start": 0, "mean": 0.0, "scale": 1.0}
    column |= {"fill": 0.0, "has_missing": False, "edges": [], "levels": []}
    scorer = Scorer(
        {
            "spec": {"columns": [column]},
            "weights": [1.0],
            "intercept": 0.0,
            "calibration": {"method": "sigmoid", "a": -1.0, "b": 0.0},
            "centers": [0.0],
        }
    )
    # sigmoid(0.04) - sigmoid(0) is 1 point; sigmoid(0.2) - sigmoid(0) is 5.
    assert scorer.score({"attr.Visits": 0.04}).factors == ["Visits is 0.04: +1 point"]
    assert scorer.score({"attr.Visits": 0.2}).factors == ["Visits is 0.2: +5 points"]


def test_a_model_stored_before_hinges_and_sigmoid_everywhere_scores_as_it_did() -> None:
    # A number with bins and no "hinges" key, and an isotonic calibration: as stored then.
    column = {"key": "attr.Visits", "kind": "number", "start": 0, "mean": 0.0, "scale": 1.0}
    column |= {"fill": 0.0, "has_missing": False, "edges": [1.0], "levels": []}
    scorer = Scorer(
        {
            "spec": {"columns": [column]},
            "weights": [1.0, 0.0, 0.5],  # the value, then its two bins
            "intercept": 0.0,
            "calibration": {"method": "isotonic", "x": [0.0, 4.0], "y": [0.1, 0.9]},
            "centers": [0.0],
        }
    )
    assert scorer.spec.width == 3  # no hinge columns read
    assert scorer.probability({"attr.Visits": 2.0}) == pytest.approx(0.1 + 0.8 * 2.5 / 4)
