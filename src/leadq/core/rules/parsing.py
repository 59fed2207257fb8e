"""Parse free-text revenue and headcount values into numeric spans.

Pure functions, no I/O; all regexes are compiled once at import time.

Shared semantics
----------------
* Results are ``Span(low, high)`` with inclusive bounds; ``high=None`` means open-ended.
* A single value is a point: ``"10M"`` -> ``Span(10e6, 10e6)``. Approximation markers
  (``~``, ``approx.``, ``about``, ``circa``, ``ca.``) are ignored: ``"~$20M"`` is a point.
* Ranges (``"5-10M"``, ``"$5M - $10M"``, ``"5 to 10 million"``, ``"between 5 and 10M"``):
  a multiplier on the upper end carries over to a bare lower end when that keeps
  ``low <= high``. Reversed ranges are swapped.
* Lower bounds (``"1k+"``, ``"over $50M"``, ``"> 100M"``, ``"at least 50"``, ``"500 or more"``,
  ``"+500"``) -> ``Span(v, None)``; ``Span.mid`` is then ``low * 1.5``.
* Upper bounds (``"<$1M"``, ``"under 1 million"``, ``"up to 50"``) -> ``Span(0, v)`` for money and
  ``Span(1, v)`` for headcount (a company has at least one person). Strict ``<`` is treated as
  ``<=``; these are rough bounds, not exact arithmetic.
* Number formats: a single ``,`` or ``.`` followed by exactly three digits is a thousands
  separator (``"10,000"`` == ``"10.000"`` == 10000); otherwise a lone mark is a decimal mark
  (``"2,5"`` == 2.5). With both marks present the last one is the decimal mark (``"1.234,5"``,
  ``"1,234.5"``); repeated marks are thousands separators (``"1.000.000"``). Apostrophes and
  spaces before 3-digit groups are thousands separators (``"1'000'000"``, ``"1 000 000"``).
* A leading year (1900-2099) followed by an unrelated number is skipped (``"2023: $12M"``).
* Only the first value (or first range) is used; number words (``"ten million"``) and
  digits glued to letters (``"B2B"``, ``"FY2023"``, ``"Q1"``) are not numbers.
* Unrecognised currencies are read as USD (see ``FX_TO_USD`` / ``_CUR_WORDS`` for the list).
* Blank, unknown or garbage text -> ``None``. Any ``str`` input never raises; non-str -> ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["FX_TO_USD", "Span", "parse_headcount", "parse_money"]


@dataclass(frozen=True, slots=True)
class Span:
    """Inclusive numeric interval; ``high=None`` means open-ended."""

    low: float
    high: float | None

    @property
    def mid(self) -> float:
        """Midpoint; for open-ended spans ``low * 1.5``."""
        if self.high is None:
            return self.low * 1.5
        return (self.low + self.high) / 2


#: Rough units of USD per one unit of currency (mid-2020s ballpark). Good enough to bucket
#: company revenue; NOT suitable for anything that needs a real exchange rate.
FX_TO_USD: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CHF": 1.13,
    "CAD": 0.73,
    "AUD": 0.66,
    "NZD": 0.60,
    "JPY": 0.0067,
    "CNY": 0.138,
    "HKD": 0.128,
    "SGD": 0.74,
    "KRW": 0.00073,
    "INR": 0.012,
    "SEK": 0.095,
    "NOK": 0.093,
    "DKK": 0.145,
    "PLN": 0.25,
    "CZK": 0.043,
    "ISK": 0.0072,
    "AED": 0.27,
    "SAR": 0.27,
    "BRL": 0.18,
    "MXN": 0.055,
    "ZAR": 0.054,
}

# --- currency markers -------------------------------------------------------------------------
# Ambiguous markers: "$" -> USD, "¥" -> JPY (use CNY/RMB/元 for yuan), "kr" -> SEK.
_CUR_WORDS: dict[str, str] = {
    "usd": "USD", "dollar": "USD", "dollars": "USD",
    "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "sterling": "GBP",
    "chf": "CHF", "franc": "CHF", "francs": "CHF", "franken": "CHF",
    "cad": "CAD", "aud": "AUD", "nzd": "NZD",
    "jpy": "JPY", "yen": "JPY",
    "cny": "CNY", "rmb": "CNY", "yuan": "CNY", "renminbi": "CNY",
    "hkd": "HKD", "sgd": "SGD", "krw": "KRW",
    "inr": "INR", "rupee": "INR", "rupees": "INR", "rs": "INR",
    "sek": "SEK", "kr": "SEK", "krona": "SEK", "kronor": "SEK",
    "nok": "NOK", "dkk": "DKK", "krone": "DKK", "kroner": "DKK",
    "pln": "PLN", "zloty": "PLN", "czk": "CZK", "isk": "ISK", "aed": "AED", "sar": "SAR",
    "brl": "BRL", "reais": "BRL",
    "mxn": "MXN", "zar": "ZAR",
}  # fmt: skip
_CUR_PREFIXED: dict[str, str] = {
    "us$": "USD", "a$": "AUD", "au$": "AUD", "c$": "CAD", "ca$": "CAD", "r$": "BRL",
    "hk$": "HKD", "s$": "SGD", "nz$": "NZD",
}  # fmt: skip
_CUR_SYMBOLS: dict[str, str] = {
    "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "￥": "JPY", "円": "JPY",
    "元": "CNY", "₹": "INR", "₩": "KRW", "zł": "PLN",
}  # fmt: skip
_CUR_MAP: dict[str, str] = {**_CUR_WORDS, **_CUR_PREFIXED, **_CUR_SYMBOLS}


def _alt(keys: Iterable[str]) -> str:
    """Regex alternation of literal keys, longest first."""
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


# "not preceded/followed by a letter" (digits allowed), "not preceded by a letter or digit".
_NL_BEFORE = r"(?<![^\W\d_])"
_NL_AFTER = r"(?![^\W\d_])"
_CUR_PAT = (
    rf"{_NL_BEFORE}(?:{_alt(_CUR_PREFIXED)}|{_alt(_CUR_WORDS)}){_NL_AFTER}|{_alt(_CUR_SYMBOLS)}"
)
_CUR_RE = re.compile(_CUR_PAT)

# --- numbers ----------------------------------------------------------------------------------
_MONEY_MULT: dict[str, float] = {
    "k": 1e3, "thousand": 1e3, "thousands": 1e3, "tsd": 1e3, "tausend": 1e3,
    "m": 1e6, "mm": 1e6, "mn": 1e6, "mln": 1e6, "mil": 1e6, "mill": 1e6, "mio": 1e6,
    "million": 1e6, "millions": 1e6, "millionen": 1e6, "mi": 1e6, "millones": 1e6,
    "milhões": 1e6, "milhoes": 1e6,
    "b": 1e9, "bn": 1e9, "bln": 1e9, "bil": 1e9, "billion": 1e9, "billions": 1e9,
    "mrd": 1e9, "milliard": 1e9, "milliards": 1e9, "milliarden": 1e9,
    "t": 1e12, "tn": 1e12, "trillion": 1e12, "trillions": 1e12,
    "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5,
    "crore": 1e7, "crores": 1e7, "cr": 1e7,
}  # fmt: skip
_HEAD_MULT: dict[str, float] = {"k": 1e3, "thousand": 1e3, "thousands": 1e3, "tsd": 1e3}

# A number must not be glued to a preceding letter/digit ("B2B", "FY2023"), except to a
# 3-letter currency code or "rs"/"kr" ("EUR2.5bn", "Rs500").
_CODES3 = "|".join(k for k in _CUR_WORDS if len(k) == 3)
_NUM_START = rf"(?:(?<![^\W_])|(?<={_CODES3})|(?<=rs|kr))"
# Digits, with groups joined by . , ' ’ or (before exactly three digits) a space.
_NUM = r"\d+(?:(?:[.,'’]|[ \u00a0\u202f](?=\d{3}(?!\d)))\d+)*"


def _token_re(mults: dict[str, float]) -> re.Pattern[str]:
    return re.compile(rf"{_NUM_START}(?P<num>{_NUM})(?:\s*(?P<mult>{_alt(mults)})(?![^\W_]))?")


_MONEY_TOKEN_RE = _token_re(_MONEY_MULT)
_HEAD_TOKEN_RE = _token_re(_HEAD_MULT)
_INR_HINT_RE = re.compile(r"\d\s*(?:lakhs?|lacs?|crores?|cr)(?![^\W_])")

_CONN_RE = re.compile(
    rf"\s*(?:(?:{_CUR_PAT})\s*)?"
    r"(?:-|–|—|‒|−|~|to|bis|and|through|thru|till|until|\.\.\.?)"
    rf"\s*(?:(?:{_CUR_PAT})\s*)?"
)
_PREFIX_QUAL_RE = re.compile(
    r"(?P<lo>>|≥|\+|\b(?:over|above|more than|greater than|at least|min(?:imum)?|exceeding"
    r"|in excess of|north of|upwards of|beyond|über|mehr als|plus de)\b)"
    r"|(?P<hi><|≤|\b(?:under|below|less than|fewer than|up to|upto|at most|max(?:imum)?|sub"
    r"|unter|weniger als|bis zu|moins de)\b)"
)
_SUFFIX_QUAL_RE = re.compile(
    r"\s*(?:(?P<lo>\+|plus\b|or (?:more|above|over|greater)\b|and (?:above|up|over|more)\b)"
    r"|(?P<hi>or (?:less|fewer|under|below)\b|and (?:below|under|less)\b|max\b))"
)
_STRIP_GROUPING = str.maketrans("", "", "'’ \u00a0\u202f")

_PREREV_RE = re.compile(
    r"\bpre[\s\-‐–]?rev(?:enue)?\b|\b(?:no|zero|nil) (?:revenues?|sales)\b"
    r"|\bnot (?:yet )?(?:generating )?revenue\b"
)

# Size words used only when the text has no digits. Rough EU-style thresholds;
# "enterprise" is treated as 1000+ employees. "startup" etc. stay None (too vague).
_SIZE_WORDS: dict[str, Span] = {
    "self-employed": Span(1.0, 1.0), "self employed": Span(1.0, 1.0), "freelancer": Span(1.0, 1.0),
    "freelance": Span(1.0, 1.0), "solo": Span(1.0, 1.0), "sole proprietor": Span(1.0, 1.0),
    "just me": Span(1.0, 1.0),
    "micro": Span(1.0, 9.0), "small": Span(10.0, 49.0),
    "medium": Span(50.0, 249.0), "mid-size": Span(50.0, 249.0), "midsize": Span(50.0, 249.0),
    "mid-sized": Span(50.0, 249.0),
    "mid-market": Span(100.0, 999.0), "midmarket": Span(100.0, 999.0),
    "large": Span(250.0, None), "enterprise": Span(1000.0, None),
}  # fmt: skip
_SIZE_WORDS_RE = re.compile(rf"(?<![^\W\d_])(?:{_alt(_SIZE_WORDS)}){_NL_AFTER}")


def _number(raw: str) -> float | None:
    """Convert one matched numeral (with grouping/decimal marks) to float."""
    if raw.isascii() and raw.isdigit():
        return float(raw)
    tok = raw.translate(_STRIP_GROUPING)
    dots = tok.count(".")
    commas = tok.count(",")
    if dots and commas:
        i = max(tok.rfind("."), tok.rfind(","))
        tok = tok[:i].replace(".", "").replace(",", "") + "." + tok[i + 1 :]
    elif dots + commas > 1:
        tok = tok.replace(".", "").replace(",", "")
    elif dots + commas == 1:
        sep = "." if dots else ","
        if len(tok) - tok.find(sep) - 1 == 3:
            tok = tok.replace(sep, "")
        elif commas:
            tok = tok.replace(",", ".")
    try:
        return float(tok)
    except ValueError:
        return None


def _is_year(m: re.Match[str]) -> bool:
    raw = m.group("num")
    return m.group("mult") is None and len(raw) == 4 and raw.isascii() and "1899" < raw < "2100"


def _core(
    s: str, token_re: re.Pattern[str], mults: dict[str, float], floor: float
) -> tuple[float, float | None] | None:
    """Find the first value/range in lower-cased ``s``; return (low, high) or None."""
    toks: list[re.Match[str]] = []
    for m in token_re.finditer(s):
        toks.append(m)
        if len(toks) == 3:
            break
    if not toks:
        return None
    i = 0
    if (
        len(toks) > 1
        and _is_year(toks[0])
        and not _CONN_RE.fullmatch(s, toks[0].end(), toks[1].start())
    ):
        i = 1
    a = toks[i]
    lo = _number(a.group("num"))
    if lo is None:
        return None
    a_mult = a.group("mult")
    if i + 1 < len(toks) and _CONN_RE.fullmatch(s, a.end(), toks[i + 1].start()):
        b = toks[i + 1]
        hi = _number(b.group("num"))
        if hi is None:
            return None
        b_mult = b.group("mult")
        if b_mult is not None:
            hi *= mults[b_mult]
            if a_mult is None and lo * mults[b_mult] <= hi:
                lo *= mults[b_mult]
        if a_mult is not None:
            lo *= mults[a_mult]
        return (hi, lo) if hi < lo else (lo, hi)
    if a_mult is not None:
        lo *= mults[a_mult]
    kind: str | None = None
    end = a.end()
    if end < len(s):
        sm = _SUFFIX_QUAL_RE.match(s, end)
        if sm is not None:
            kind = sm.lastgroup
    if kind is None and a.start() > 0:
        qm = _PREFIX_QUAL_RE.search(s, 0, a.start())
        if qm is not None:
            kind = qm.lastgroup
    if kind == "lo":
        return lo, None
    if kind == "hi":
        return min(floor, lo), lo
    return lo, lo


def _finite_span(lo: float, hi: float | None) -> Span | None:
    if not math.isfinite(lo) or (hi is not None and not math.isfinite(hi)):
        return None
    return Span(lo, hi)


def parse_money(text: str | None) -> Span | None:
    """Parse a revenue/budget string into a USD ``Span`` (see module docstring).

    Currency comes from the first marker found (``$``, ``€``, ``EUR``, ``CHF``, ``dollars``...),
    defaulting to USD (INR when lakh/crore is used without a currency). "pre-revenue",
    "no revenue" -> ``Span(0, 0)``. "unknown", "n/a", "-", "" -> ``None``.
    """
    if not isinstance(text, str):
        return None
    s = text.lower()
    if ("rev" in s or "sales" in s) and _PREREV_RE.search(s):
        return Span(0.0, 0.0)
    res = _core(s, _MONEY_TOKEN_RE, _MONEY_MULT, 0.0)
    if res is None:
        return None
    cm = _CUR_RE.search(s)
    if cm is not None:
        code = _CUR_MAP[cm.group()]
    elif _INR_HINT_RE.search(s):
        code = "INR"
    else:
        code = "USD"
    rate = FX_TO_USD[code]
    lo, hi = res
    return _finite_span(lo * rate, None if hi is None else hi * rate)


def parse_headcount(text: str | None) -> Span | None:
    """Parse an employee-count string into a ``Span`` (see module docstring).

    Digits always win ("small (10-50)" -> 10..50). Without digits, size words map to rough
    EU-style bands: micro 1-9, small 10-49, medium/mid-size 50-249, mid-market 100-999,
    large 250+, enterprise 1000+, solo/freelancer 1. Anything else -> ``None``.
    """
    if not isinstance(text, str):
        return None
    s = text.lower()
    res = _core(s, _HEAD_TOKEN_RE, _HEAD_MULT, 1.0)
    if res is None:
        wm = _SIZE_WORDS_RE.search(s)
        return _SIZE_WORDS[wm.group()] if wm is not None else None
    return _finite_span(*res)
