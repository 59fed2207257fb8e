"""What the learner sees of a lead, and how it is encoded.

A lead becomes a *record*: the rules engine's scores and the signals that fired in its notes,
its fields and its attributes, by name, and the LLM's scores when an LLM qualified it
(`lead_record`). A `FeatureSpec` is learned from the
training records: which names are numbers and which categories (inferred from the values, never
from the names), the categories' frequent values (the rest pooled as "other", a missing value
its own level), the numbers' centre, scale and quantile bins (and the bins' edges, above which
a number has a slope of its own). `FeatureSpec.encode` turns a record into the sparse row the
model reads; training and scoring share it, so the two cannot disagree. Pure Python: scoring
one lead needs no numpy."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from typing import Any

from leadq.core.lead import LeadInput
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.signals import SIGNAL_SCAN, SIGNALS
from leadq.core.scoring import overall

Value = str | float | None
Record = dict[str, Value]
Distinct = tuple[type, Value]  # a value as counted: True and 1 apart

RULES_PROVIDER = "rules"  # the provider name of the rules engine's results
RULE_SCORES = ("overall_score", "fit_score", "budget_score", "urgency_score", "authority_score")
# The lead's own fields a model may learn from (names, emails, ids and free text are not
# features: they identify a person or are read by the rules engine's signals instead).
FIELDS = ("industry", "company_size", "annual_revenue", "job_title")
MISSING = "(missing)"
OTHER = "(other)"
MIN_LEVEL_COUNT = 10  # a category's value seen fewer times is pooled into "other"
MIN_LEVEL_SHARE = 0.002  # ... or in fewer than this share of the rows
MAX_LEVELS = 40
NUMERIC_SHARE = 0.95  # a column is a number when this share of its values read as numbers
BINS = 10  # quantile bins of a number with enough distinct values
CLIP = 5.0  # standardised numbers are clipped to +-CLIP


def _says(name: str) -> str:
    return next(s.says for s in SIGNALS if s.name == name)


def rules_scores(engine: RulesEngine, lead: LeadInput) -> dict[str, float]:
    """The rules engine's component scores and overall score for `lead`."""
    answer = engine.answer(lead)
    scores = {k: float(answer[k]) for k in RULE_SCORES[1:]}
    scores["overall_score"] = overall(scores, engine.weights)
    return scores


def llm_scores(answer: Mapping[str, Any]) -> dict[str, float] | None:
    """The component and overall scores of a result (or a stored result's dict) when an LLM
    gave them; None for the rules engine's own results (their scores are the `rules.` ones)."""
    provider = answer.get("provider")
    if not provider or provider == RULES_PROVIDER:
        return None
    scores = {k: answer.get(k) for k in RULE_SCORES}
    if any(not isinstance(v, (int, float)) for v in scores.values()):
        return None
    return {k: float(v) for k, v in scores.items() if v is not None}


def lead_record(
    lead: LeadInput, scores: Mapping[str, float], llm: Mapping[str, float] | None = None
) -> Record:
    """`lead` as the learner reads it, with the rules engine's `scores` for it and, when an
    LLM qualified it, the LLM's (`llm`). A lead no LLM saw has no `llm.` keys: where a history
    mixes the two, the model reads them as missing, as it is trained to."""
    record: Record = {f"rules.{k}": float(scores[k]) for k in RULE_SCORES}
    if llm:
        record.update({f"llm.{k}": float(llm[k]) for k in RULE_SCORES})
    text = " ".join(filter(None, (lead.engagement_history, lead.additional_context)))
    if text:
        for i in SIGNAL_SCAN.indexes(text):
            record[f"signal.{SIGNALS[i].name}"] = 1.0
    for name in FIELDS:
        record[f"field.{name}"] = getattr(lead, name)
    if lead.attributes:
        for name, value in lead.attributes.items():
            record[f"attr.{name}"] = value
    return record


def label_of(key: str) -> str:
    """The words a sales person reads for a record key."""
    kind, _, name = key.partition(".")
    if kind == "attr":
        return name
    if kind == "field":
        return name.replace("_", " ").capitalize()
    if kind == "rules":
        return "Rules engine " + name.replace("_", " ")
    if kind == "llm":
        return "LLM " + name.replace("_", " ")
    if kind == "signal":
        return f'Notes say "{_says(name)}"'
    return key


def as_number(value: Value) -> float | None:
    """`value` as a finite number, or None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def as_text(value: Value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or MISSING


@dataclass
class Column:
    """One record key as the model reads it: a number (standardised, with quantile bins, a
    missing indicator when the data has them, and with `hinges` how far it is above each inner
    edge: a line bent at the edges, where the bins alone are steps) or a category (one column
    per kept level)."""

    key: str
    kind: str  # "number" or "category"
    start: int = 0  # the first of its columns in the encoded row
    mean: float = 0.0
    scale: float = 1.0
    fill: float = 0.0  # a missing number reads as this (the median), plus its indicator
    has_missing: bool = False
    edges: list[float] = field(default_factory=list)  # inner quantile edges of the bins
    levels: list[str] = field(default_factory=list)  # categories: kept values, OTHER, MISSING
    hinges: bool = False  # False in models stored before numbers had them

    @property
    def width(self) -> int:
        if self.kind == "category":
            return len(self.levels)
        bins = len(self.edges) + 1 if self.edges else 0
        return 1 + int(self.has_missing) + bins + (len(self.edges) if self.hinges else 0)

    def names(self) -> list[str]:
        """What each of its encoded columns means, in words."""
        label = label_of(self.key)
        if self.kind == "category":
            return [f"{label} is {_level_words(v)}" for v in self.levels]
        out = [f"{label} (per standard deviation)"]
        if self.has_missing:
            out.append(f"{label} is missing")
        if self.edges:
            bounds = [-math.inf, *self.edges, math.inf]
            out += [f"{label} in {_range_words(lo, hi)}" for lo, hi in pairwise(bounds)]
            if self.hinges:
                out += [f"{label} above {e:,.4g} (per standard deviation)" for e in self.edges]
        return out

    def encode(self, value: Value, out: list[tuple[int, float]]) -> None:
        if self.kind == "category":
            text = as_text(value)
            try:
                i = self.levels.index(text)
            except ValueError:
                i = len(self.levels) - 2  # OTHER
            out.append((self.start + i, 1.0))
            return
        number = as_number(value)
        at = self.start
        if number is None:
            number = self.fill
            if self.has_missing:
                out.append((at + 1, 1.0))
        z = (number - self.mean) / self.scale
        out.append((at, max(-CLIP, min(CLIP, z))))
        if self.edges:
            first = at + 1 + int(self.has_missing)
            out.append((first + bisect_right(self.edges, number), 1.0))
            if self.hinges:
                first += len(self.edges) + 1
                for i, edge in enumerate(self.edges):
                    if number > edge:
                        out.append((first + i, min(CLIP, (number - edge) / self.scale)))

    def shown(self, value: Value) -> str:
        """The value as the factor's words give it."""
        if self.kind == "category":
            text = as_text(value)
            return _level_words(text if text in self.levels else OTHER)
        number = as_number(value)
        return "missing" if number is None else f"{number:,.4g}"


def _level_words(level: str) -> str:
    if level == MISSING:
        return "missing"
    if level == OTHER:
        return "another value"
    return level


def _range_words(lo: float, hi: float) -> str:
    if math.isinf(lo):
        return f"under {hi:,.4g}"
    if math.isinf(hi):
        return f"{lo:,.4g} or more"
    return f"{lo:,.4g} to {hi:,.4g}"


@dataclass
class FeatureSpec:
    """The encoding learned from training records (see the module's docstring)."""

    columns: list[Column]
    ignored: dict[str, str] = field(default_factory=dict)  # key -> why it is not a feature

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    def names(self) -> list[str]:
        return [name for c in self.columns for name in c.names()]

    def encode(self, record: Mapping[str, Value]) -> list[tuple[int, float]]:
        """The record's non-zero encoded columns, as (index, value)."""
        out: list[tuple[int, float]] = []
        for column in self.columns:
            column.encode(record.get(column.key), out)
        return out

    def encode_by_column(self, record: Mapping[str, Value]) -> list[list[tuple[int, float]]]:
        """`encode`, one list per feature column (for factors)."""
        parts = []
        for column in self.columns:
            out: list[tuple[int, float]] = []
            column.encode(record.get(column.key), out)
            parts.append(out)
        return parts

    @classmethod
    def fit(cls, records: Sequence[Mapping[str, Value]]) -> FeatureSpec:
        """Infer each key's type and encoding from `records`. Each key's values are counted
        once and every decision reads the counts of its distinct values: a column of 100,000
        rows with a few dozen values costs one pass, not one conversion per row."""
        n = len(records)
        keys: dict[str, None] = {}
        for record in records:
            keys.update(dict.fromkeys(record))
        columns: list[Column] = []
        ignored: dict[str, str] = {}
        min_count = max(MIN_LEVEL_COUNT, math.ceil(MIN_LEVEL_SHARE * n))
        for key in keys:
            # Keyed by (type, value): True and 1 are one key of a dict, not one category.
            values = [r.get(key) for r in records]
            counts: dict[Distinct, int] = Counter(zip(map(type, values), values, strict=True))
            if key.startswith("signal."):  # fired or not: a 0/1 number, never missing
                fired = sum(c for (_, v), c in counts.items() if v)
                counts = {(float, x): c for x, c in ((1.0, fired), (0.0, n - fired)) if c}
            texts = {k: as_text(k[1]) for k in counts}
            present = {k: c for k, c in counts.items() if texts[k] != MISSING}
            if not present:
                ignored[key] = "always empty"
                continue
            numbers = {k: x for k in present if (x := as_number(k[1])) is not None}
            if sum(present[v] for v in numbers) >= NUMERIC_SHARE * sum(present.values()):
                column = _number(key, counts, present, numbers)
                if column is None:
                    ignored[key] = "one value only"
                    continue
                distinct = set(numbers.values())
                if len(distinct) > 0.98 * n and all(x.is_integer() for x in distinct):
                    ignored[key] = "a different whole number on every row (an id)"
                    continue
                if key.startswith("signal."):
                    column.fill = 0.0  # not fired
            else:
                by_text: Counter[str] = Counter()
                for v, c in counts.items():
                    by_text[texts[v]] += c
                kept = [v for v, c in by_text.most_common(MAX_LEVELS) if c >= min_count]
                kept = [v for v in kept if v != MISSING]
                if not kept or (len(kept) == 1 and by_text[kept[0]] == n):
                    ignored[key] = "one value only, or every value rare (an id or free text)"
                    continue
                column = Column(key, "category", levels=[*kept, OTHER, MISSING])
            columns.append(column)
        start = 0
        for column in columns:
            column.start = start
            start += column.width
        return cls(columns, ignored)

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [
                {
                    "key": c.key,
                    "kind": c.kind,
                    "start": c.start,
                    "mean": c.mean,
                    "scale": c.scale,
                    "fill": c.fill,
                    "has_missing": c.has_missing,
                    "edges": c.edges,
                    "levels": c.levels,
                    "hinges": c.hinges,
                }
                for c in self.columns
            ],
            "ignored": self.ignored,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls([Column(**c) for c in data["columns"]], dict(data.get("ignored", {})))


def _number(
    key: str,
    counts: Mapping[Distinct, int],
    present: Mapping[Distinct, int],
    numbers: Mapping[Distinct, float],
) -> Column | None:
    """A number column from the rows each distinct value has (`counts`: every value;
    `present`: the non-empty ones; `numbers`: those that read as a number, and as which)."""
    weights: Counter[float] = Counter()
    for v, x in numbers.items():
        weights[x] += present[v]
    distinct = sorted(weights)
    if len(distinct) < 2:
        return None
    total = sum(weights.values())
    mean = sum(x * c for x, c in weights.items()) / total
    var = sum(c * (x - mean) ** 2 for x, c in weights.items()) / total
    ends = list(accumulate(weights[x] for x in distinct))

    def ordered(i: int) -> float:
        """The i-th (from 0) of the numbers in ascending order."""
        return distinct[bisect_right(ends, i)]

    median = ordered(total // 2)
    has_missing = any(as_number(v) is None for _, v in counts)
    edges: list[float] = []
    if len(distinct) >= 2 * BINS:
        qs = [ordered(min(total - 1, total * i // BINS)) for i in range(1, BINS)]
        edges = sorted(set(qs) - {distinct[0]})
    return Column(
        key,
        "number",
        mean=mean,
        scale=math.sqrt(var) or 1.0,
        fill=median,
        has_missing=has_missing,
        edges=edges,
        hinges=bool(edges),
    )
