"""Training and its honest report. A regularised logistic regression over the `FeatureSpec`
encoding, calibrated with `CalibratedClassifierCV` (Platt's sigmoid at every size: it keeps the
regression's ranking, where an isotonic step curve ties every lead of a step), evaluated on
data it did not see: the latest HOLDOUT share of the rows when they have dates, else
stratified 5-fold cross-validation (from ONE_HOLDOUT_FROM rows, one stratified HOLDOUT
share). Beside it, on the same split: the naive Bayes baseline and the rules engine's
static `overall_score`. Below MIN_PER_CLASS leads of either outcome it refuses to train; when
the AUC's 95% interval reaches below NO_SIGNAL_BELOW the verdict is "no signal".

The report also proposes action bands by probability, stored with the model for
LEADQ_ACTION_BASIS=probability: on the held-out leads, the cut-offs that give each action the
same share of leads as the overall score's bands do (`BANDS_RULE`). A team's capacity per
action is what it has planned around, so it is kept; what changes is which leads fill it,
and the report shows each band's conversion both ways on the same leads."""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import joblib
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline

from leadq.core.scoring import BANDS
from leadq.learning import metrics
from leadq.learning.features import (
    CLIP,
    Column,
    FeatureSpec,
    Record,
    Value,
    as_number,
    as_text,
)
from leadq.learning.naive_bayes import NaiveBayes
from leadq.learning.report import BANDS_RULE, NO_SIGNAL_BELOW, NO_SIGNAL_RULE
from leadq.learning.scorer import Scorer
from leadq.storage import conversion_models as registry
from leadq.storage.store import Store

MIN_PER_CLASS = 50
HOLDOUT = 0.2
FOLDS = 5
REGULARISATION = 1.0  # LogisticRegression's C (L2)
# Newton steps with the Hessian's Cholesky factor: a few iterations over a few hundred encoded
# columns, where L-BFGS takes a hundred (and stops short along the one-hot levels' flat
# direction).
SOLVER = "newton-cholesky"
# From this many rows without dates, one stratified holdout instead of cross-validation: its
# HOLDOUT share (4,000 leads and more) gives a tight interval, at a fifth of the fits.
ONE_HOLDOUT_FROM = 20_000


class TrainingError(ValueError):
    """The data cannot train a model (too few leads of an outcome, say), and why."""


@dataclass
class TrainingSet:
    """Records with their 0/1 outcome (and date, when known), and where they came from."""

    records: list[Record]
    labels: list[int]
    dates: list[date | None] | None = None
    source: str = ""
    label: str = ""
    skipped: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is no feature

    def fingerprint(self) -> str:
        """sha256 of the rows as trained on: the same data gives the same fingerprint."""
        digest = hashlib.sha256()
        dates = self.dates or [None] * len(self.records)
        for record, label, on in zip(self.records, self.labels, dates, strict=True):
            row = [sorted(record.items()), label, on.isoformat() if on else None]
            digest.update(json.dumps(row, default=str).encode())
            digest.update(b"\n")
        return digest.hexdigest()


class SpecEncoder(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Records -> the sparse matrix of a fitted `FeatureSpec` (one-hot and scaling)."""

    def __init__(self, spec: FeatureSpec | None = None) -> None:
        self.spec = spec

    def fit(self, records: Sequence[Mapping[str, Value]], y: Any = None) -> SpecEncoder:
        if self.spec is None:
            self.spec = FeatureSpec.fit(records)
        return self

    def transform(self, records: Sequence[Mapping[str, Value]]) -> sparse.csr_matrix:
        assert self.spec is not None  # noqa: S101 - fitted first, as every transformer
        return encode(self.spec, records)


Entries = tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, columns, values


def encode(spec: FeatureSpec, records: Sequence[Mapping[str, Value]]) -> sparse.csr_matrix:
    """The records' rows as `FeatureSpec.encode` gives them (what scoring reads), a column at
    a time with numpy: each distinct value is read once, a number's scaling and bins are
    array operations."""
    n = len(records)
    parts = [
        part
        for column in spec.columns
        for part in _encode_column(column, [r.get(column.key) for r in records])
    ]
    if not parts:
        return sparse.csr_matrix((n, spec.width))
    rows, cols, vals = (np.concatenate(p) for p in zip(*parts, strict=True))
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n, spec.width))


def _encode_column(column: Column, values: list[Value]) -> list[Entries]:
    """`Column.encode` over every row at once."""
    n = len(values)
    keys = list(zip(map(type, values), values, strict=True))  # True and 1 kept apart
    seen = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    codes = np.fromiter(map(seen.__getitem__, keys), dtype=np.intp, count=n)
    every = np.arange(n)
    if column.kind == "category":
        level: dict[str, int] = {}
        for i, text in enumerate(column.levels):
            level.setdefault(text, i)
        other = len(column.levels) - 2
        at = np.array([level.get(as_text(v), other) for _, v in seen], dtype=np.intp)
        return [(every, column.start + at[codes], np.ones(n))]
    read = np.array([math.nan if (x := as_number(v)) is None else x for _, v in seen])[codes]
    missing = np.isnan(read)
    number = np.where(missing, column.fill, read)
    z = np.clip((number - column.mean) / column.scale, -CLIP, CLIP)
    out = [(every, np.full(n, column.start), z)]
    if column.has_missing:
        gone = np.flatnonzero(missing)
        out.append((gone, np.full(len(gone), column.start + 1), np.ones(len(gone))))
    if column.edges:
        first = column.start + 1 + int(column.has_missing)
        bins = np.searchsorted(np.asarray(column.edges), number, side="right")
        out.append((every, first + bins, np.ones(n)))
        if column.hinges:
            first += len(column.edges) + 1
            for i, edge in enumerate(column.edges):
                above = np.flatnonzero(number > edge)
                run = np.minimum(CLIP, (number[above] - edge) / column.scale)
                out.append((above, np.full(len(above), first + i), run))
    return out


@dataclass
class Fitted:
    scorer: Scorer
    data: dict[str, Any]  # the scorer as JSON
    pipeline: Pipeline  # the scikit-learn model (encoder + calibrated regression)
    spec: FeatureSpec


def fit(records: Sequence[Record], labels: np.ndarray) -> Fitted:
    """One calibrated model on `records`."""
    spec = FeatureSpec.fit(records)
    if not spec.columns:
        why = "; ".join(f"{_shown_key(k)}: {r}" for k, r in list(spec.ignored.items())[:8])
        raise TrainingError(
            "nothing to learn from: no column of these leads varies in a way a model can use"
            + (f" ({why})" if why else "")
        )
    X = encode(spec, records)
    regression = Pipeline(
        [("logistic", LogisticRegression(C=REGULARISATION, solver=SOLVER, max_iter=200))]
    )
    folds = max(2, min(3, int(min(labels.sum(), len(labels) - labels.sum()))))
    calibrated = CalibratedClassifierCV(regression, method="sigmoid", cv=folds, ensemble=False)
    calibrated.fit(X, labels)
    inner = calibrated.calibrated_classifiers_[0]
    logistic = inner.estimator.named_steps["logistic"]
    weights = logistic.coef_[0].astype(float)
    calibrator = inner.calibrators[0]
    calibration = {"method": "sigmoid", "a": float(calibrator.a_), "b": float(calibrator.b_)}
    centers = []
    for column in spec.columns:
        block = X[:, column.start : column.start + column.width]
        centers.append(
            float(np.asarray(block @ weights[column.start : column.start + column.width]).mean())
        )
    data = {
        "spec": spec.to_json(),
        "weights": [float(w) for w in weights],
        "intercept": float(logistic.intercept_[0]),
        "calibration": calibration,
        "centers": centers,
    }
    pipeline = Pipeline([("encode", SpecEncoder(spec)), ("model", calibrated)])
    return Fitted(Scorer(data), data, pipeline, spec)


def _splits(ts: TrainingSet, y: np.ndarray, seed: int) -> tuple[str, Iterator[tuple[Any, Any]]]:
    n = len(y)
    if ts.dates is not None:
        dated = sorted((on, i) for i, on in enumerate(ts.dates) if on is not None)
        order = [i for _, i in dated]  # leads without a date are only trained on
        cut = len(order) - max(1, round(HOLDOUT * len(order)))
        test = np.array(order[cut:])
        train = np.array(sorted(set(range(n)) - set(order[cut:])))
        start = dated[cut][0]
        how = (
            f"holdout by time: the latest {len(test)} of {n} leads "
            f"({HOLDOUT:.0%}, from {start}) tested on a model trained on the earlier ones"
        )
        return how, iter([(train, test)])
    if n >= ONE_HOLDOUT_FROM:
        split = StratifiedShuffleSplit(n_splits=1, test_size=HOLDOUT, random_state=seed)
        how = (
            f"stratified holdout: {round(HOLDOUT * n)} of {n} leads ({HOLDOUT:.0%}, drawn at "
            "random, no date column) tested on a model trained on the others"
        )
        return how, iter(split.split(np.zeros(n), y))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    how = f"stratified {FOLDS}-fold cross-validation over {n} leads (no date column)"
    return how, iter(folds.split(np.zeros(n), y))


@dataclass
class Trained:
    report: dict[str, Any]
    scorer: dict[str, Any]
    model: bytes  # the scikit-learn pipeline, joblib-dumped

    @property
    def no_signal(self) -> bool:
        return bool(self.report["verdict"] == "no signal")

    def save(self, store: Store, trained_on: TrainingSet) -> int:
        """Store this model as a new, inactive version; its id."""
        with store.writing(), store.session.begin() as s:
            return registry.save_model(
                s,
                report=self.report,
                scorer=self.scorer,
                model=self.model,
                fingerprint=trained_on.fingerprint(),
            )


def check_counts(positives: int, negatives: int, minimum: int = MIN_PER_CLASS) -> None:
    """Raise `TrainingError` saying how many more leads are needed, if any."""
    short = [
        f"{minimum - count} more {name} lead(s) (have {count}, need {minimum})"
        for name, count in (("converted", positives), ("not converted", negatives))
        if count < minimum
    ]
    if short:
        raise TrainingError("not enough data to train: " + "; ".join(short))


def _llm_overall(ts: TrainingSet, tested: Any, y: Any) -> dict[str, Any]:
    """The LLM's own `overall_score` as a ranking, on the held-out leads an LLM qualified
    (`llm_overall_score`: AUC and how many leads), when there are both outcomes among them."""
    rows = [i for i in np.flatnonzero(tested) if ts.records[i].get("llm.overall_score") is not None]
    labels = y[rows]
    if not rows or labels.min() == labels.max():
        return {}
    scores = np.array([float(ts.records[i]["llm.overall_score"] or 0.0) for i in rows])
    return {"llm_overall_score": {"auc": round(metrics.auc(labels, scores), 4), "leads": len(rows)}}


def train(ts: TrainingSet, *, min_per_class: int = MIN_PER_CLASS, seed: int = 0) -> Trained:
    """Evaluate on held-out data, then fit the model to every row (see the module)."""
    started = time.perf_counter()
    y = np.asarray(ts.labels, dtype=np.int_)
    positives = int(y.sum())
    check_counts(positives, len(y) - positives, min_per_class)
    how, splits = _splits(ts, y, seed)
    p_model = np.full(len(y), np.nan)
    p_nb = np.full(len(y), np.nan)
    for train_idx, test_idx in splits:
        train_records = [ts.records[i] for i in train_idx]
        fitted = fit(train_records, y[train_idx])
        nb = NaiveBayes(fitted.spec).fit(train_records, list(y[train_idx]))
        for i in test_idx:
            p_model[i] = fitted.scorer.probability(ts.records[i])
            p_nb[i] = nb.probability(ts.records[i])
    tested = ~np.isnan(p_model)
    yt, pm, pn = y[tested], p_model[tested], p_nb[tested]
    overall = np.array(
        [float(ts.records[i].get("rules.overall_score") or 0.0) for i in np.flatnonzero(tested)]
    )
    low, high = metrics.auc_interval(yt, pm, seed)
    model_auc = metrics.auc(yt, pm)
    bands = probability_bands(yt, pm, overall)
    final = fit(ts.records, y)
    final.data["bands"] = [
        [b["probability_from"], b["action"]]
        for b in bands["bands"]
        if b["probability_from"] is not None
    ]
    buffer = io.BytesIO()
    joblib.dump(final.pipeline, buffer)
    report: dict[str, Any] = {
        "label": ts.label,
        "source": ts.source,
        "rows": len(y),
        "converted": positives,
        "not_converted": len(y) - positives,
        "skipped_rows": len(ts.skipped),
        "evaluation": how,
        "tested_rows": int(tested.sum()),
        "model": {
            "kind": "logistic regression (L2), calibrated",
            "calibration": "sigmoid",
            "auc": round(model_auc, 4),
            "auc_ci95": [round(low, 4), round(high, 4)],
            "brier": round(metrics.brier(yt, pm), 4),
            "log_loss": round(metrics.log_loss(yt, pm), 4),
        },
        "naive_bayes": {
            "auc": round(metrics.auc(yt, pn), 4),
            "brier": round(metrics.brier(yt, pn), 4),
        },
        "rules_overall_score": {"auc": round(metrics.auc(yt, overall), 4)},
        **_llm_overall(ts, tested, y),
        "calibration_table": metrics.calibration_table(yt, pm),
        "deciles": metrics.deciles(yt, pm),
        "probability_bands": bands,
        "strongest_factors": strongest_factors(final),
        "ignored_columns": {
            **ts.excluded,
            **{_shown_key(k): why for k, why in final.spec.ignored.items()},
        },
        "features": final.spec.width,
        "verdict": "no signal" if low < NO_SIGNAL_BELOW else "signal",
        "verdict_rule": NO_SIGNAL_RULE,
    }
    report["training_seconds"] = round(time.perf_counter() - started, 2)
    return Trained(report, final.data, buffer.getvalue())


def probability_bands(y: np.ndarray, p: np.ndarray, overall: np.ndarray) -> dict[str, Any]:
    """The action bands by probability (see BANDS_RULE), with each band's share of the
    held-out leads and their conversion, by the overall score's bands and by these."""
    thresholds = [t for t, _ in BANDS[:-1]]  # the last band takes the rest
    cutoffs = [*metrics.matched_cutoffs(p, overall, thresholds), 0.0]
    by_score = metrics.band_rows(y, metrics.banded(overall, thresholds), len(BANDS))
    by_probability = metrics.band_rows(y, metrics.banded(p, cutoffs[:-1]), len(BANDS))
    return {
        "rule": BANDS_RULE,
        "bands": [
            {
                "action": action.value,
                "overall_score_from": threshold,
                "probability_from": cutoff,
                "by_score": score,
                "by_probability": probability,
            }
            for (threshold, action), cutoff, score, probability in zip(
                BANDS, cutoffs, by_score, by_probability, strict=True
            )
        ],
    }


def _shown_key(key: str) -> str:
    from leadq.learning.features import label_of

    return label_of(key)


def strongest_factors(fitted: Fitted, top: int = 5) -> list[str]:
    """The encoded columns with the largest coefficients, each way, in words."""
    names = fitted.spec.names()
    weights = fitted.data["weights"]
    order = sorted(range(len(weights)), key=weights.__getitem__)
    ups = [i for i in reversed(order[-top:]) if weights[i] > 0]
    downs = [i for i in order[:top] if weights[i] < 0]
    return [
        f"{names[i]}: {'raises' if weights[i] > 0 else 'lowers'} the odds "
        f"x{math.exp(weights[i]):.2f}"
        for i in ups + downs
    ]
