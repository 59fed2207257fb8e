"""Table-driven and property tests for leadq.core.rules.parsing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadq.core.rules.parsing import FX_TO_USD, Span, parse_headcount, parse_money

EUR = FX_TO_USD["EUR"]
GBP = FX_TO_USD["GBP"]
JPY = FX_TO_USD["JPY"]
CHF = FX_TO_USD["CHF"]
INR = FX_TO_USD["INR"]
M = 1e6
B = 1e9


def _pt(v: float) -> Span:
    return Span(v, v)


def _assert_span(got: Span | None, want: Span | None) -> None:
    if want is None:
        assert got is None
        return
    assert got is not None
    assert got.low == pytest.approx(want.low)
    if want.high is None:
        assert got.high is None
    else:
        assert got.high == pytest.approx(want.high)


MONEY_CASES: list[tuple[str | None, Span | None]] = [
    # points
    ("$10M", _pt(10 * M)),
    ("10M", _pt(10 * M)),
    ("10 million", _pt(10 * M)),
    ("$10,000,000", _pt(10 * M)),
    ("10M USD", _pt(10 * M)),
    ("$1.2 billion", _pt(1.2 * B)),
    ("1.2 trillion", _pt(1.2e12)),
    ("3.2M ARR", _pt(3.2 * M)),
    ("~$20M ARR", _pt(20 * M)),
    ("approx. 20 million dollars", _pt(20 * M)),
    ("$10MM", _pt(10 * M)),
    ("$0", _pt(0.0)),
    # other currencies
    ("EUR 2.5bn", _pt(2.5 * B * EUR)),
    ("EUR2.5bn", _pt(2.5 * B * EUR)),
    ("€2.5B", _pt(2.5 * B * EUR)),
    ("2,5 Mrd. €", _pt(2.5 * B * EUR)),
    ("€ 3,5 Mio", _pt(3.5 * M * EUR)),
    ("2,5 Mio €", _pt(2.5 * M * EUR)),
    ("1.000.000 €", _pt(1 * M * EUR)),
    ("1.234,5 Mio €", _pt(1234.5 * M * EUR)),
    ("£750k", _pt(750e3 * GBP)),
    ("¥500M", _pt(500 * M * JPY)),
    ("CHF 40m", _pt(40 * M * CHF)),
    ("1'000'000 CHF", _pt(1 * M * CHF)),
    ("10 lakh", _pt(1e6 * INR)),
    ("2 crore", _pt(2e7 * INR)),
    ("₹2 crore", _pt(2e7 * INR)),
    ("US$ 3M", _pt(3 * M)),
    ("A$5M", _pt(5 * M * FX_TO_USD["AUD"])),
    ("R$ 10 mi", _pt(10 * M * FX_TO_USD["BRL"])),
    ("ISK 3 billion", _pt(3 * B * FX_TO_USD["ISK"])),
    # ranges
    ("$5-10M", Span(5 * M, 10 * M)),
    ("$5M - $10M", Span(5 * M, 10 * M)),
    ("5 to 10 million", Span(5 * M, 10 * M)),
    ("between 5 and 10M", Span(5 * M, 10 * M)),
    ("$500k-$2M", Span(0.5 * M, 2 * M)),
    ("€5–10 Mio", Span(5 * M * EUR, 10 * M * EUR)),
    ("10M-5M", Span(5 * M, 10 * M)),
    # open-ended / bounded
    ("1k+", Span(1e3, None)),
    ("over $50M", Span(50 * M, None)),
    ("> 100M", Span(100 * M, None)),
    ("at least 20M", Span(20 * M, None)),
    ("$50M or more", Span(50 * M, None)),
    ("<$1M", Span(0.0, 1 * M)),
    ("under 1 million", Span(0.0, 1 * M)),
    ("up to $500k", Span(0.0, 0.5 * M)),
    # context noise
    ("2023 revenue: $12M", _pt(12 * M)),
    ("B2B SaaS, 5M", _pt(5 * M)),
    # zero / unknown
    ("pre-revenue", _pt(0.0)),
    ("Pre revenue (seed raised $2M)", _pt(0.0)),
    ("no revenue yet", _pt(0.0)),
    ("unknown", None),
    ("n/a", None),
    ("N/A", None),
    ("-", None),
    ("", None),
    ("   ", None),
    ("ten million", None),
    (None, None),
]

HEADCOUNT_CASES: list[tuple[str | None, Span | None]] = [
    ("100-500", Span(100, 500)),
    ("100 - 500 employees", Span(100, 500)),
    ("100–500", Span(100, 500)),
    ("1k+", Span(1000, None)),
    ("1,000+", Span(1000, None)),
    ("10,000", _pt(10000)),
    ("10.000", _pt(10000)),
    ("10 000 Mitarbeiter", _pt(10000)),
    ("5000+", Span(5000, None)),
    ("+500", Span(500, None)),
    ("50", _pt(50)),
    ("~200", _pt(200)),
    ("small (10-50)", Span(10, 50)),
    ("11-50 employees", Span(11, 50)),
    ("1-10", Span(1, 10)),
    ("over 1000", Span(1000, None)),
    ("<10", Span(1, 10)),
    ("up to 50", Span(1, 50)),
    ("2k-5k", Span(2000, 5000)),
    ("201 to 500", Span(201, 500)),
    ("1.5k", _pt(1500)),
    ("５０名", _pt(50)),
    # size words (no digits): documented rough bands
    ("enterprise", Span(1000, None)),
    ("Enterprise", Span(1000, None)),
    ("small", Span(10, 49)),
    ("mid-size", Span(50, 249)),
    ("self-employed", _pt(1)),
    ("startup", None),
    ("unknown", None),
    ("", None),
    ("n/a", None),
    (None, None),
]


@pytest.mark.parametrize(("text", "want"), MONEY_CASES)
def test_parse_money(text: str | None, want: Span | None) -> None:
    _assert_span(parse_money(text), want)


@pytest.mark.parametrize(("text", "want"), HEADCOUNT_CASES)
def test_parse_headcount(text: str | None, want: Span | None) -> None:
    _assert_span(parse_headcount(text), want)


def test_span_mid() -> None:
    assert Span(10, 20).mid == 15
    assert Span(5, 5).mid == 5
    assert Span(1000, None).mid == 1500
    assert Span(0, None).mid == 0


def test_fx_table_has_required_currencies() -> None:
    for code in ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "INR", "SEK", "NOK", "DKK"):
        assert FX_TO_USD[code] > 0
    assert FX_TO_USD["BRL"] > 0
    assert FX_TO_USD["CNY"] > 0
    assert FX_TO_USD["USD"] == 1.0


def test_non_str_input_returns_none() -> None:
    assert parse_money(123) is None  # type: ignore[arg-type]
    assert parse_headcount(["50"]) is None  # type: ignore[arg-type]


def test_huge_numbers_are_rejected_not_infinite() -> None:
    assert parse_money("9" * 400 + "M") is None
    assert parse_headcount("1" + "0" * 400) is None


# Text biased toward the parser's vocabulary so branches are actually exercised.
_ATOMS = st.sampled_from(
    [
        "0", "1", "5", "10", "2,5", "1.000", "10,000", "1'000", " 000", ".", ",", "-", "–",
        " ", "+", "~", "<", ">", "$", "€", "£", "¥", "EUR", "CHF", "usd", "k", "M", "mio",
        "Mrd", "bn", "lakh", "crore", " to ", " and ", "over ", "under ", "up to ",
        "or more", "employees", "pre-revenue", "enterprise", "small", "2023", "B2B", "٣",
    ]
)  # fmt: skip
_VOCAB_TEXT = st.lists(_ATOMS, max_size=12).map("".join)
_ANY_TEXT = st.one_of(st.text(max_size=80), _VOCAB_TEXT)


def _check_invariants(span: Span | None) -> None:
    if span is None:
        return
    assert isinstance(span, Span)
    assert math.isfinite(span.low)
    assert span.low >= 0
    if span.high is not None:
        assert math.isfinite(span.high)
        assert span.high >= span.low
    assert math.isfinite(span.mid)
    assert span.mid >= span.low


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_parsers_never_raise_and_spans_are_sane(text: str) -> None:
    _check_invariants(parse_money(text))
    _check_invariants(parse_headcount(text))
