"""The baseline every report shows beside the model: naive Bayes over won/lost frequencies in
the manner of Odoo's predictive lead scoring. Each feature's value (a category's level, a
number's quantile bin) has its frequency among won and among lost leads, Laplace-smoothed;
a lead's odds are the prior odds times each value's ratio."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence

from leadq.learning.features import OTHER, Column, FeatureSpec, Value, as_number, as_text


def _token(column: Column, value: Value) -> str:
    if column.kind == "category":
        text = as_text(value)
        return text if text in column.levels else OTHER
    number = as_number(value)
    if number is None:
        return "missing"
    if column.edges:
        return f"bin{bisect_right(column.edges, number)}"
    return f"{number:g}"


class NaiveBayes:
    """Fitted on records and 0/1 labels with the columns of `spec`."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.won: list[Counter[str]] = []
        self.lost: list[Counter[str]] = []
        self.n_won = self.n_lost = 0

    def fit(self, records: Sequence[Mapping[str, Value]], labels: Sequence[int]) -> NaiveBayes:
        self.won = [Counter() for _ in self.spec.columns]
        self.lost = [Counter() for _ in self.spec.columns]
        won = [bool(label) for label in labels]
        for j, column in enumerate(self.spec.columns):
            # Each distinct value (with its type: True and 1 apart) counted, then tokenised once.
            values = [r.get(column.key) for r in records]
            seen = Counter(zip(won, map(type, values), values, strict=True))
            for (is_won, _, value), n in seen.items():
                (self.won if is_won else self.lost)[j][_token(column, value)] += n
        self.n_won = sum(1 for v in labels if v)
        self.n_lost = len(labels) - self.n_won
        return self

    def probability(self, record: Mapping[str, Value]) -> float:
        log_odds = math.log((self.n_won + 1) / (self.n_lost + 1))
        for j, column in enumerate(self.spec.columns):
            token = _token(column, record.get(column.key))
            levels = len(self.won[j].keys() | self.lost[j].keys()) + 1
            p_won = (self.won[j][token] + 1) / (self.n_won + levels)
            p_lost = (self.lost[j][token] + 1) / (self.n_lost + levels)
            log_odds += math.log(p_won / p_lost)
        log_odds = max(-50.0, min(50.0, log_odds))
        return 1.0 / (1.0 + math.exp(-log_odds))
