"""The learner on synthetic data with a known effect: it recovers the effect, names it, says
"no signal" when the labels are shuffled, and refuses too little data."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import joblib
import pytest

from leadq.learning.scorer import Scorer
from leadq.learning.train import TrainingError, train
from tests.learning import synthetic
from tests.learning.synthetic import training_set


def test_recovers_the_known_effect_and_names_it() -> None:
    trained = train(training_set(600))
    report = trained.report
    # Channel alone separates 70% from 20%: an AUC of about 0.75 is the ceiling.
    assert report["model"]["auc"] > 0.68
    assert report["model"]["auc_ci95"][0] > 0.6
    assert report["verdict"] == "signal"
    assert not trained.no_signal
    assert report["strongest_factors"][0].startswith("Channel is A: raises the odds")
    assert any(f.startswith("Channel is B: lowers") for f in report["strongest_factors"])
    assert report["evaluation"].startswith("stratified 5-fold cross-validation")
    assert report["naive_bayes"]["auc"] > 0.68
    assert len(report["calibration_table"]) == 10
    assert [d["decile"] for d in report["deciles"]] == list(range(1, 11))
    # The top decile converts far more than the bottom one.
    assert report["deciles"][0]["conversion"] > report["deciles"][-1]["conversion"] + 0.3


def test_shuffled_labels_are_no_signal() -> None:
    trained = train(training_set(600, shuffled=True))
    assert trained.report["verdict"] == "no signal"
    assert trained.report["model"]["auc_ci95"][0] < 0.55
    assert trained.no_signal


def test_too_few_of_an_outcome_is_refused_saying_how_many_more() -> None:
    ts = training_set(400)
    keep = [i for i, y in enumerate(ts.labels) if y == 0] + [
        i for i, y in enumerate(ts.labels) if y == 1
    ][:42]
    ts.records = [ts.records[i] for i in keep]
    ts.labels = [ts.labels[i] for i in keep]
    with pytest.raises(TrainingError, match="8 more converted lead"):
        train(ts)


def test_dates_give_a_holdout_of_the_latest_leads() -> None:
    ts = training_set(500)
    ts.dates = [date(2025, 1, 1) + timedelta(days=i) for i in range(500)]
    report = train(ts).report
    assert report["evaluation"].startswith("holdout by time: the latest 100 of 500 leads")
    assert report["tested_rows"] == 100


def test_the_stored_model_and_the_served_weights_agree() -> None:
    ts = training_set(300)
    trained = train(ts)
    pipeline = joblib.load(io.BytesIO(trained.model))
    scorer = Scorer(trained.scorer)
    expected = pipeline.predict_proba(ts.records[:50])[:, 1]
    for record, p in zip(ts.records[:50], expected, strict=True):
        assert scorer.probability(record) == pytest.approx(p, abs=1e-9)


def test_same_rows_same_fingerprint() -> None:
    assert training_set(100).fingerprint() == training_set(100).fingerprint()
    assert training_set(100).fingerprint() != training_set(100, shuffled=True).fingerprint()


def test_columns_filled_in_when_a_deal_ends_are_never_features(tmp_path: Path) -> None:
    """A CRM export carries the deal's stage and close date beside the label: as features
    they would give the outcome away (a model perfect on paper, useless before the end)."""
    from leadq.leadfiles import read_lead_file
    from leadq.learning.dataset import from_lead_file

    data = [
        {**row, "Deal Stage": row["Result"], "Close Date": "2026-11-01"}
        for row in synthetic.rows(300)
    ]
    read = read_lead_file(synthetic.write_csv(tmp_path / "deals.csv", data))
    ts = from_lead_file(read, synthetic.engine(), "Result", ["Closed Won"])
    assert all(not any("Deal Stage" in k or "Close Date" in k for k in r) for r in ts.records)
    assert set(ts.excluded) == {"Deal Stage", "Close Date"}
    report = train(ts).report
    assert "Deal Stage" in report["ignored_columns"]
    assert report["model"]["auc"] < 0.95  # Channel's effect, not the answer
