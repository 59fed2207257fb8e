"""How well probabilities rank and match what happened: AUC (with a bootstrap interval), Brier
score, log loss, a calibration table and conversion by decile; and probability cut-offs that
give each action band the share of leads the overall score's bands give it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int_]

BOOTSTRAPS = 300
EPS = 1e-15


def auc(y: Ints, p: Floats) -> float:
    """The probability that a random positive is ranked above a random negative (ties half)."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(len(p), dtype=np.float64)
    # Average ranks of tied values.
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mean_rank, counts)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def auc_interval(y: Ints, p: Floats, seed: int = 0) -> tuple[float, float]:
    """A 95% bootstrap interval of the AUC (percentile method, BOOTSTRAPS resamples)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    values = []
    for _ in range(BOOTSTRAPS):
        idx = rng.integers(0, n, n)
        value = auc(y[idx], p[idx])
        if not np.isnan(value):
            values.append(value)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def brier(y: Ints, p: Floats) -> float:
    return float(np.mean((p - y) ** 2))


def log_loss(y: Ints, p: Floats) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def calibration_table(y: Ints, p: Floats, bins: int = 10) -> list[dict[str, Any]]:
    """Per probability bin (0-10%, 10-20%, ...): leads, mean predicted, observed conversion."""
    at = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = at == b
        n = int(mask.sum())
        out.append(
            {
                "bin": f"{b * 100 // bins}-{(b + 1) * 100 // bins}%",
                "leads": n,
                "predicted": round(float(p[mask].mean()), 4) if n else None,
                "observed": round(float(y[mask].mean()), 4) if n else None,
            }
        )
    return out


def deciles(y: Ints, p: Floats) -> list[dict[str, Any]]:
    """Leads ranked by probability, highest first, in ten equal groups: each group's
    conversion and lift (its conversion over the overall rate)."""
    order = np.argsort(-p, kind="mergesort")
    base = float(y.mean())
    out = []
    for d, idx in enumerate(np.array_split(order, 10), start=1):
        rate = float(y[idx].mean()) if len(idx) else 0.0
        out.append(
            {
                "decile": d,
                "leads": len(idx),
                "conversion": round(rate, 4),
                "lift": round(rate / base, 2) if base else None,
            }
        )
    return out


def matched_cutoffs(p: Floats, overall: Floats, thresholds: Sequence[float]) -> list[float | None]:
    """For each overall-score threshold (highest first), the probability cut-off that puts the
    same number of these leads at or above it: the k-th highest probability when k leads
    score at or above the threshold (None when none does: no lead reaches that band). Tied
    probabilities at a cut-off all go above it."""
    ranked = np.sort(p)[::-1]
    out: list[float | None] = []
    for threshold in thresholds:
        k = int((overall >= threshold).sum())
        out.append(float(ranked[k - 1]) if k else None)
    return out


def banded(values: Floats, cutoffs: Sequence[float | None]) -> Ints:
    """Each value's band: 0 for the first cut-off it reaches (highest first), len(cutoffs)
    when it reaches none. A None cut-off is never reached."""
    out = np.full(len(values), len(cutoffs), dtype=np.int_)
    for i in reversed(range(len(cutoffs))):
        cut = cutoffs[i]
        if cut is not None:
            out[values >= cut] = i
    return out


def band_rows(y: Ints, band: Ints, bands: int) -> list[dict[str, Any]]:
    """Per band: leads, their share of all, and their conversion."""
    n = len(y)
    out = []
    for b in range(bands):
        mask = band == b
        count = int(mask.sum())
        out.append(
            {
                "leads": count,
                "share": round(count / n, 4) if n else None,
                "conversion": round(float(y[mask].mean()), 4) if count else None,
            }
        )
    return out
