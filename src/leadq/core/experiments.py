"""The statistics of prompt experiments: conversion rates with Wilson intervals, and whether
two variants differ (a two-proportion z-test, or Fisher's exact test when counts are small).
A few formulas, so no scipy."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import combinations
from typing import Any

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
ALPHA = 0.05
MIN_EXPECTED = 5  # below this expected count in any cell, the z-test's normal approximation fails


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion (sound at 0, 1 and small n); None for n=0."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_z(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float]:
    """`(z, two-sided p)` for H0: both proportions are equal (pooled standard error)."""
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (s1 / n1 - s2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of Fisher's exact test on the table [[a, b], [c, d]]: the probability,
    with the margins fixed, of every table at most as likely as the one observed."""
    row1, col1, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, col1 - (n - row1)), min(row1, col1)
    log_total = _log_comb(n, col1)

    def prob(x: int) -> float:
        return math.exp(_log_comb(row1, x) + _log_comb(n - row1, col1 - x) - log_total)

    observed = prob(a)
    p = sum(px for x in range(lo, hi + 1) if (px := prob(x)) <= observed * (1 + 1e-7))
    return min(1.0, p)


def compare(s1: int, n1: int, s2: int, n2: int) -> dict[str, Any] | None:
    """Is the difference between two conversion rates significant at 5%? The z-test when
    every expected cell count is at least 5, else Fisher's exact test."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    expected = (n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if min(expected) >= MIN_EXPECTED:
        z, p = two_proportion_z(s1, n1, s2, n2)
        test: dict[str, Any] = {"test": "two_proportion_z", "z": round(z, 4)}
    else:
        p = fisher_exact(s1, n1 - s1, s2, n2 - s2)
        test = {"test": "fisher_exact"}
    return {**test, "p_value": round(p, 6), "significant": p < ALPHA}


def _rate(won: int, decided: int) -> dict[str, Any]:
    ci = wilson_interval(won, decided)
    return {
        "won": won,
        "decided": decided,
        "rate": round(won / decided, 6) if decided else None,
        "ci95": [round(ci[0], 6), round(ci[1], 6)] if ci else None,
    }


def conversion(rows: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, Any]]:
    """Per variant, from `(variant, action, outcome)`: outcome counts, the conversion rate
    (won / leads with an outcome) overall and by action, with 95% Wilson intervals."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    by_action: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for variant, action, outcome in rows:
        counts[variant][outcome] += 1
        by_action[variant][action][outcome] += 1
    out: dict[str, dict[str, Any]] = {}
    for variant, c in counts.items():
        out[variant] = {
            "outcomes": dict(c),
            **_rate(c["won"], c.total()),
            "by_action": {
                a: _rate(ac["won"], ac.total()) for a, ac in sorted(by_action[variant].items())
            },
        }
    return out


def comparisons(conv: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pair of variants: their overall conversion rates compared, and per action
    where both have decided leads."""
    out = []
    for v1, v2 in combinations(sorted(conv), 2):
        a, b = conv[v1], conv[v2]
        overall = compare(a["won"], a["decided"], b["won"], b["decided"])
        actions = {}
        for action in sorted(set(a["by_action"]) & set(b["by_action"])):
            x, y = a["by_action"][action], b["by_action"][action]
            actions[action] = compare(x["won"], x["decided"], y["won"], y["decided"])
        out.append({"variants": [v1, v2], "overall": overall, "by_action": actions})
    return out


def report(variants: list[dict[str, Any]], rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The `/api/experiments` body: each variant's figures with its conversion (if any
    outcome is recorded), and the pairwise comparisons."""
    conv = conversion(rows)
    return {
        "variants": [{**v, "conversion": conv.get(v["variant"])} for v in variants],
        "comparisons": comparisons(conv),
    }
