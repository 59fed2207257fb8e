"""A trained model as the server runs it: the logistic regression's weights over the
`FeatureSpec` encoding and the probability calibration, as plain numbers (stored as JSON
beside the scikit-learn model). Scoring a lead is a few dictionary look-ups and sums, with
no scikit-learn in the serving process and nothing unpickled from the database."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadq.core.result import Action
from leadq.learning.features import FeatureSpec, Value, label_of

TOP = 3  # factors shown each way


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass
class Calibration:
    """Decision value -> probability: Platt's sigmoid (`a`, `b`) or an isotonic step curve."""

    method: str
    a: float = 0.0
    b: float = 0.0
    x: Sequence[float] = ()
    y: Sequence[float] = ()

    def __call__(self, d: float) -> float:
        if self.method == "sigmoid":
            return _sigmoid(-(self.a * d + self.b))
        xs, ys = self.x, self.y
        if d <= xs[0]:
            return ys[0]
        if d >= xs[-1]:
            return ys[-1]
        i = bisect_right(xs, d)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 + (y1 - y0) * (d - x0) / (x1 - x0) if x1 > x0 else y1


@dataclass
class Scored:
    """A lead's calibrated probability and the factors that moved it most, in words."""

    probability: float
    factors: list[str]


class Scorer:
    """Scores records with a model's weights (see the module's docstring)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.spec = FeatureSpec.from_json(data["spec"])
        self.weights: list[float] = list(data["weights"])
        self.intercept: float = float(data["intercept"])
        cal = data["calibration"]
        self.calibration = Calibration(
            cal["method"], cal.get("a", 0.0), cal.get("b", 0.0), cal.get("x", ()), cal.get("y", ())
        )
        # Each feature's average contribution over the training rows: a factor is how far
        # this lead's contribution is from it.
        self.centers: list[float] = list(data["centers"])
        # The action bands by probability the training report proposed, highest first (none
        # for a model trained before reports had them).
        self.bands: tuple[tuple[float, Action], ...] = tuple(
            (float(cut), Action(action)) for cut, action in data.get("bands", ())
        )

    def decision(self, record: Mapping[str, Value]) -> float:
        w = self.weights
        return self.intercept + sum(w[i] * v for i, v in self.spec.encode(record))

    def probability(self, record: Mapping[str, Value]) -> float:
        return self.calibration(self.decision(record))

    def score(self, record: Mapping[str, Value]) -> Scored:
        """The probability and the TOP factors that raised it and the TOP that lowered it
        ("Lead Source is Webinar: +12 points": with that feature at its average contribution
        instead, the regression's probability would be 12 points lower)."""
        w, spec = self.weights, self.spec
        parts = spec.encode_by_column(record)
        contributions = [
            sum(w[i] * v for i, v in part) - center
            for part, center in zip(parts, self.centers, strict=True)
        ]
        d = self.intercept + sum(contributions) + sum(self.centers)
        p = self.calibration(d)
        order = sorted(range(len(contributions)), key=contributions.__getitem__)
        ups = [j for j in reversed(order[-TOP:]) if contributions[j] > 0]
        downs = [j for j in order[:TOP] if contributions[j] < 0]
        factors = []
        # Points on the regression's own probability scale: the calibrated curve may be a
        # step function (isotonic), flat around most leads, while this one is smooth.
        raw = _sigmoid(d)
        for j in ups + downs:
            points = round(100 * (raw - _sigmoid(d - contributions[j])))
            if points == 0:
                continue
            column = spec.columns[j]
            unit = "point" if abs(points) == 1 else "points"
            factors.append(
                f"{label_of(column.key)} is {column.shown(record.get(column.key))}: "
                f"{points:+d} {unit}"
            )
        return Scored(p, factors)
