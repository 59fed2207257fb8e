"""`PhraseScan` must say exactly what one `search` per pattern says, and the ICP's merged
phrase patterns must match exactly when a per-phrase pattern would."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadq.core.rules.icp import _phrases, load_icp
from leadq.core.rules.signals import (
    SENIORITY,
    SENIORITY_SCAN,
    SIGNAL_SCAN,
    SIGNALS,
    PhraseScan,
    _rx,
)

SIGNAL_PATTERNS = [s.pattern for s in SIGNALS]
TITLE_PATTERNS = [p for _, _, p in SENIORITY]

# Phrases the vocabulary knows (and near misses), glued with separators that do and do not
# end a word, in mixed case and with characters that match ASCII letters only under
# IGNORECASE (long s, Kelvin sign, dotted and dotless i).
WORDS = (  # noqa: SIM905 - as a list literal, one phrase a line, this is 150 lines
    "series b|Series F|raised|funding round|funded|IPO|seed round|finanzierungsrunde|"
    "budget approved|budget is allocated|approved budget|budget for|has budget|budget freeze|"
    "no budget|hiring freeze|cost-cutting|cost cutting|layoffs|pre-revenue|bootstrapped|"
    "requested a demo|booked an demo|demo request|demo requested|asked for a demo|demo|demos|"
    "pricing|price list|quote|proposal|free trial|sandbox|poc|proof of concept|pilot|"
    "this quarter|asap|urgently|q1|Q4|q5|within 3 days|within 10 weeks|by end of|deadline|"
    "contract ends|go-live|next month|immediately|evaluating|shortlisted|rfp|vendor selection|"
    "switching from|competitor|opened|webinar|ebook|event|just browsing|no timeline|next year|"
    "not now|unsubscribed|bounced|student project|out of office|nur informieren|intern|"
    "Praktikantin|assistant|ceo|Co-Founder|founder|managing director|Geschäftsführerin|"
    "directeur général|directrice générale|pdg|vp|vice-president|head of|head|bereichsleiter|"
    "director|direktorin|directora|leiter|manager|Managerin|team lead|lead|gerente|senior|"
    "engineer|rep|sdr|account executive|executive|officer|社長|部長|budget|series|the|and"
).split("|")
SEPARATORS = [" ", " ", ", ", "; ", "-", "_", ".", "/", "", "é", "1", "\u00a0", "\t"]
CONFUSABLES = {"s": "\u017f", "k": "\u212a", "i": "\u0130"}


def _text(rng: random.Random, words: int) -> str:
    out = []
    for _ in range(words):
        word = rng.choice(WORDS)
        roll = rng.random()
        if roll < 0.25:
            word = word.upper()
        elif roll < 0.35:
            word = word.title()
        elif roll < 0.4:
            for ascii_letter, lookalike in CONFUSABLES.items():
                word = word.replace(ascii_letter, lookalike)
        out.append(word + rng.choice(SEPARATORS))
    return "".join(out)


RANDOM_TEXTS = [_text(random.Random(seed), seed % 17 + 1) for seed in range(3000)]


def _searched(patterns: list[re.Pattern[str]], text: str) -> list[int]:
    return [i for i, p in enumerate(patterns) if p.search(text)]


@pytest.mark.parametrize(
    ("scan", "patterns"),
    [(SIGNAL_SCAN, SIGNAL_PATTERNS), (SENIORITY_SCAN, TITLE_PATTERNS)],
    ids=["signals", "seniority"],
)
def test_scan_finds_what_each_search_finds(scan: PhraseScan, patterns: list) -> None:
    for text in RANDOM_TEXTS:
        want = _searched(patterns, text)
        assert scan.indexes(text) == want, text
        assert scan.first(text) == (want[0] if want else None), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("abcdeilmnoprstuvyABDEIRS \u017f\u212a\u0130-_.1é")))
def test_scan_matches_search_on_arbitrary_text(text: str) -> None:
    assert SIGNAL_SCAN.indexes(text) == _searched(SIGNAL_PATTERNS, text)
    assert SENIORITY_SCAN.indexes(text) == _searched(TITLE_PATTERNS, text)


def test_patterns_matching_at_the_same_place_are_all_found() -> None:
    patterns = [_rx("budget freeze"), _rx("budget"), _rx("budget f\\w+", "other"), _rx("none")]
    scan = PhraseScan(patterns)
    for text in ("Budget freeze", "budget freeze; and no budget", "BUDGET FREEZE \u00e9"):
        assert scan.indexes(text) == [0, 1, 2] == _searched(patterns, text)
        assert scan.first(text) == 0
    assert scan.indexes("budget") == [1]
    assert scan.indexes("a budgetfreeze") == []


def test_only_lower_case_phrases_without_groups_can_be_scanned() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        PhraseScan([_rx("CEO")])
    with pytest.raises(ValueError, match="lower-case"):
        PhraseScan([_rx("(budget)")])
    with pytest.raises(ValueError, match="lower-case"):
        PhraseScan([_rx("\u017fales")])  # long s matches "s" and "S" under IGNORECASE
    with pytest.raises(ValueError, match="not a phrase pattern"):
        PhraseScan([re.compile("budget")])


def _phrases_one_by_one(words: list[str]) -> list[re.Pattern[str]]:
    """The ICP's former construction: one alternative per phrase, each with its boundaries."""
    escaped = [(re.escape(w.lower()), w.isascii()) for w in words]
    return [re.compile(rf"(?<![\w]){e}(?![\w])" if whole else e) for e, whole in escaped]


def test_icp_phrases_match_when_a_single_phrase_would() -> None:
    icp = load_icp()
    words = [w.lower() for w in WORDS] + ["saas", "it services", "e-commerce", "営業", "data"]
    merged = _phrases(words)
    singles = _phrases_one_by_one(words)
    for text in [*RANDOM_TEXTS, "b2b saas", "fintech / saas", "営業部長", "big data", "database"]:
        text = text.lower()
        assert bool(merged.search(text)) == any(p.search(text) for p in singles), text
    assert _phrases([]).search("anything") is None
    assert icp.target_industries.search("fintech / saas")
    assert not icp.target_industries.search("database tools")
