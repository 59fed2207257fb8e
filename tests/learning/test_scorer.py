"""A lead's factors name what moved its probability, in words, each way."""

from __future__ import annotations

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
