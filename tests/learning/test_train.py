"""The learner on synthetic data with a known effect: it recovers the effect, names it, says
"no signal" when the labels are shuffled, and refuses too little data."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from pathlib import Path

import joblib
import pytest

from leadq.core.scoring import BANDS
from leadq.learning import train as train_module
from leadq.learning.features import FeatureSpec, Record, Value
from leadq.learning.report import BANDS_RULE, render
from leadq.learning.scorer import Scorer
from leadq.learning.train import TrainingError, encode, train
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


def test_the_matrix_trained_on_is_what_scoring_encodes() -> None:
    """Training encodes a column at a time with numpy; scoring a record at a time in Python
    (`FeatureSpec.encode`): the two must give the same rows, for every kind of value."""
    rng = random.Random(3)
    mixed: list[Value] = [True, 1, False, 0, "x", "y"]
    records: list[Record] = [
        {
            "attr.Plan": rng.choice(["Pro", "Free", "Team", None, "", "(other)"]),
            "attr.Seats": rng.choice([str(rng.randint(1, 500)), None, "n/a", "1,200"]),
            "attr.Flag": rng.choice([True, False, 1, 0, 1.0, None]),
            "attr.Mixed": rng.choice(mixed),  # True and 1 apart
            "attr.Rare": f"id-{i}" if i % 50 else "common",
            "signal.budget": 1.0 if i % 3 == 0 else None,
        }
        for i in range(400)
    ]
    spec = FeatureSpec.fit(records)
    column = next(c for c in spec.columns if c.key == "attr.Mixed")
    assert {"True", "1", "False", "0"} <= set(column.levels)
    unseen: list[Record] = [
        {"attr.Plan": "Enterprise", "attr.Seats": "99999", "attr.Flag": "yes"},
        {},
    ]
    everything = records + unseen
    matrix = encode(spec, everything).toarray()
    for row, record in zip(matrix, everything, strict=True):
        expected = [0.0] * spec.width
        for at, value in spec.encode(record):
            expected[at] = value
        assert list(row) == pytest.approx(expected, abs=1e-12)


def test_action_bands_give_each_action_the_share_the_score_bands_give() -> None:
    ts = training_set(600)
    rng = random.Random(5)
    for record in ts.records:  # overall scores across every band, unrelated to the outcome
        record["rules.overall_score"] = round(rng.random(), 3)
    trained = train(ts)
    bands = trained.report["probability_bands"]
    assert bands["rule"] == BANDS_RULE
    assert [b["action"] for b in bands["bands"]] == [a.value for _, a in BANDS]
    assert [b["overall_score_from"] for b in bands["bands"]] == [t for t, _ in BANDS]
    cuts = [b["probability_from"] for b in bands["bands"]]
    assert cuts[-1] == 0.0
    assert cuts == sorted(cuts, reverse=True)
    for band in bands["bands"]:  # ties at a cut-off may add a lead or two
        assert abs(band["by_probability"]["leads"] - band["by_score"]["leads"]) <= 3
    assert sum(b["by_probability"]["leads"] for b in bands["bands"]) == 600
    # The model's top band converts better than the score's (which is noise here).
    top = bands["bands"][0]
    assert top["by_probability"]["conversion"] > top["by_score"]["conversion"] + 0.15
    # Stored with the model, as the server applies them; `leadq model show` prints them.
    scorer = Scorer(trained.scorer)
    assert [(cut, action.value) for cut, action in scorer.bands] == [
        (b["probability_from"], b["action"]) for b in bands["bands"]
    ]
    assert "immediate_outreach: from " in render(trained.report)


def test_a_band_no_lead_reaches_by_score_is_never_reached_by_probability() -> None:
    ts = training_set(300)
    for record in ts.records:
        record["rules.overall_score"] = 0.5  # every lead in followup_research by score
    trained = train(ts)
    bands = {b["action"]: b for b in trained.report["probability_bands"]["bands"]}
    assert bands["immediate_outreach"]["probability_from"] is None
    assert bands["qualified_nurture"]["probability_from"] is None
    assert bands["followup_research"]["by_probability"]["leads"] == 300
    assert [action.value for _, action in Scorer(trained.scorer).bands] == [
        "followup_research",
        "not_qualified",
    ]
    assert "immediate_outreach: never" in render(trained.report)


def test_many_rows_without_dates_are_tested_on_one_stratified_holdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(train_module, "ONE_HOLDOUT_FROM", 500)
    report = train(training_set(600)).report
    assert report["evaluation"].startswith("stratified holdout: 120 of 600 leads (20%")
    assert report["tested_rows"] == 120
    assert report["verdict"] == "signal"


def test_leads_alike_in_everything_are_refused_saying_there_is_nothing_to_learn_from() -> None:
    records: list[Record] = [{"rules.fit_score": 0.5, "attr.Plan": "gold"} for _ in range(200)]
    ts = train_module.TrainingSet(records, [i % 2 for i in range(200)], None, "s", "l")
    with pytest.raises(TrainingError, match=r"nothing to learn from.*Plan: one value only"):
        train(ts)
