"""Experiment statistics against values computed by hand (shown in each test)."""

from __future__ import annotations

import pytest

from leadq.core.experiments import (
    compare,
    comparisons,
    conversion,
    fisher_exact,
    report,
    two_proportion_z,
    wilson_interval,
)


def test_wilson_interval_by_hand() -> None:
    # 8 of 10, z = 1.96: centre (0.8 + 1.92/10) / 1.384 = 0.7167,
    # half 1.96 * sqrt(0.016 + 0.0096) / 1.384 = 0.2266 -> (0.4902, 0.9433).
    low, high = wilson_interval(8, 10)  # type: ignore[misc]
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    # 0 of 10: (0, 3.8415/10 / 1.384) = (0, 0.2775); never below 0, unlike the Wald interval.
    low, high = wilson_interval(0, 10)  # type: ignore[misc]
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_two_proportion_z_by_hand() -> None:
    # 60/100 vs 45/100: pooled 0.525, se sqrt(0.525 * 0.475 * 0.02) = 0.07062,
    # z = 0.15 / 0.07062 = 2.124, two-sided p = 2 * (1 - Phi(2.124)) = 0.0337.
    z, p = two_proportion_z(60, 100, 45, 100)
    assert z == pytest.approx(2.1240, abs=1e-3)
    assert p == pytest.approx(0.0337, abs=5e-4)
    assert two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)


def test_fisher_exact_by_hand() -> None:
    # Margins 4/4/4/4: P(x) = C(4,x) C(4,4-x) / C(8,4) = (1, 16, 36, 16, 1) / 70.
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(34 / 70)  # 1 + 16 + 16 + 1
    assert fisher_exact(4, 0, 0, 4) == pytest.approx(2 / 70)
    # Margins 5/5/5/5: (1, 25, 100, 100, 25, 1) / 252; x = 1 -> 1 + 25 + 25 + 1.
    assert fisher_exact(1, 4, 4, 1) == pytest.approx(52 / 252)
    assert fisher_exact(2, 2, 2, 2) == pytest.approx(1.0)


def test_compare_picks_the_test_by_expected_counts() -> None:
    big = compare(60, 100, 45, 100)
    assert big is not None
    assert big["test"] == "two_proportion_z"
    assert big["significant"] is True
    small = compare(4, 4, 0, 4)
    assert small is not None
    assert small["test"] == "fisher_exact"
    assert small["p_value"] == pytest.approx(2 / 70, abs=1e-6)
    assert small["significant"] is True
    even = compare(3, 4, 1, 4)
    assert even is not None
    assert even["significant"] is False
    assert compare(1, 0, 1, 5) is None


def test_conversion_and_report_by_hand() -> None:
    rows = [
        ("v1", "immediate_outreach", "won"),
        ("v1", "immediate_outreach", "won"),
        ("v1", "qualified_nurture", "lost"),
        ("v1", "qualified_nurture", "no_response"),
        ("v2", "immediate_outreach", "won"),
        ("v2", "immediate_outreach", "disqualified"),
    ]
    conv = conversion(rows)
    v1 = conv["v1"]
    assert (v1["won"], v1["decided"], v1["rate"]) == (2, 4, 0.5)
    assert v1["outcomes"] == {"won": 2, "lost": 1, "no_response": 1}
    assert v1["by_action"]["immediate_outreach"]["rate"] == 1.0
    assert v1["by_action"]["qualified_nurture"]["rate"] == 0.0
    assert v1["ci95"] == [pytest.approx(0.1500, abs=1e-4), pytest.approx(0.8500, abs=1e-4)]
    (pair,) = comparisons(conv)
    assert pair["variants"] == ["v1", "v2"]
    assert pair["overall"]["test"] == "fisher_exact"
    # Table [[2, 2], [1, 1]]: the observed table is the likeliest, so p = 1.
    assert pair["overall"]["p_value"] == pytest.approx(1.0)
    assert set(pair["by_action"]) == {"immediate_outreach"}
    body = report([{"variant": "v1"}, {"variant": "v2"}, {"variant": "v3"}], rows)
    assert body["variants"][0]["conversion"]["rate"] == 0.5
    assert body["variants"][2]["conversion"] is None
