"""The vocabulary the rules engine reads titles and engagement text with. Each signal has a
weight and the sentence a person sees when it fires."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Every phrase pattern is "not after a word character, one of the alternatives, not before one".
_NOT_AFTER_WORD = r"(?<![\w])"
_NOT_BEFORE_WORD = r"(?![\w])"


def _rx(*alternatives: str) -> re.Pattern[str]:
    """Whole-word match of any alternative, case-insensitively. Alternatives are lower-case
    regexes without capturing groups (`PhraseScan` relies on both)."""
    body = "(?:" + "|".join(alternatives) + ")"
    return re.compile(_NOT_AFTER_WORD + body + _NOT_BEFORE_WORD, re.IGNORECASE)


def _body(pattern: re.Pattern[str]) -> str:
    """The alternatives of an `_rx` pattern, without its word boundaries."""
    source = pattern.pattern
    if not (source.startswith(_NOT_AFTER_WORD) and source.endswith(_NOT_BEFORE_WORD)):
        raise ValueError(f"not a phrase pattern: {source!r}")
    body = source[len(_NOT_AFTER_WORD) : -len(_NOT_BEFORE_WORD)]
    if re.compile(body).groups or any(_case_sensitive(c) for c in body):
        raise ValueError(f"phrases must be lower-case, without capturing groups: {body!r}")
    return body


def _case_sensitive(c: str) -> bool:
    """Whether lower-casing ASCII text could change how `c` matches it under IGNORECASE."""
    return c.isupper() or (not c.isascii() and any(v.isascii() for v in (c.upper(), c.lower())))


# Seniority tiers, checked in order (junior first, so "Assistant to the CEO" is junior).
SENIORITY: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "junior",
        0.10,
        _rx(
            "intern",
            "internship",
            "student",
            "trainee",
            "assistant",
            "praktikant(?:in)?",
            "werkstudent(?:in)?",
            "apprentice",
            "stagiaire",
        ),
    ),
    (
        "C-level",
        1.00,
        _rx(
            "ceo",
            "cto",
            "cfo",
            "coo",
            "cro",
            "cmo",
            "cio",
            "ciso",
            "cpo",
            "chief",
            "co-?founder",
            "founder",
            "owner",
            "president",
            "managing director",
            "general manager",
            "geschäftsführer(?:in)?",
            "inhaber(?:in)?",
            "gerente general",
            "directeur général",
            "directrice générale",
            "pdg",
            "presidente",
            "managing partner",
        ),
    ),
    (
        "VP",
        0.85,
        _rx("vp", "svp", "evp", "vice[- ]president", "head of", "head", "bereichsleiter(?:in)?"),
    ),
    (
        "director",
        0.65,
        _rx(
            "director", "directeur", "directrice", "direktor(?:in)?", "directora?", "leiter(?:in)?"
        ),
    ),
    (
        "manager",
        0.45,
        _rx("manager(?:in)?", "lead", "team lead", "supervisor", "gerente", "responsable"),
    ),
    (
        "individual contributor",
        0.25,
        _rx(
            "senior",
            "specialist",
            "engineer",
            "analyst",
            "consultant",
            "coordinator",
            "representative",
            "rep",
            "associate",
            "developer",
            "administrator",
            "sdr",
            "bdr",
            "account executive",
            "executive",
            "officer",
        ),
    ),
)
# Japanese and Chinese titles have no word boundaries.
CJK_SENIORITY: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("C-level", 1.00, ("社長", "代表取締役", "取締役", "総経理", "董事长", "首席")),
    ("VP", 0.85, ("本部長", "副社長", "副总裁")),
    ("director", 0.65, ("部長", "总监")),
    ("manager", 0.45, ("課長", "マネージャー", "经理")),
)


@dataclass(frozen=True)
class Signal:
    name: str
    weight: float
    pattern: re.Pattern[str]
    says: str


# Budget: funding and stated budget raise it; freezes and cuts lower it.
BUDGET_SIGNALS = (
    Signal(
        "funding",
        0.15,
        _rx(
            r"series [a-f]",
            "raised",
            "funding round",
            "funded",
            "ipo",
            "seed round",
            "finanzierungsrunde",
        ),
        "Recent funding",
    ),
    Signal(
        "budget",
        0.20,
        _rx(
            r"budget (?:is )?(?:approved|allocated|set aside|confirmed)",
            "approved budget",
            "budget for",
            "has budget",
            "budget in place",
        ),
        "Budget stated as available",
    ),
    Signal(
        "freeze",
        -0.25,
        _rx(
            "budget freeze",
            "no budget",
            "hiring freeze",
            "cost[- ]cutting",
            "layoffs?",
            "pre-revenue",
            "bootstrapped",
            "tight budget",
        ),
        "Budget constraint mentioned",
    ),
)

# Urgency: buying activity and timelines raise it; passivity lowers it.
URGENCY_SIGNALS = (
    Signal(
        "demo",
        0.30,
        _rx(
            r"(?:requested|request(?:ed)?|booked|book|scheduled) (?:a |an )?demo",
            "demo request(?:ed)?",
            "asked for a demo",
            "demo",
        ),
        "Demo requested",
    ),
    Signal(
        "pricing",
        0.15,
        _rx("pricing", "price list", "quote", "proposal"),
        "Looked at pricing or asked for a quote",
    ),
    Signal(
        "trial",
        0.20,
        _rx("trial", "free trial", "sandbox", "poc", "proof of concept", "pilot"),
        "Trial or pilot activity",
    ),
    Signal(
        "timeline",
        0.25,
        _rx(
            "this quarter",
            "this month",
            "asap",
            "urgent(?:ly)?",
            r"q[1-4]",
            r"within \d+ (?:days|weeks)",
            "by end of",
            "deadline",
            r"contract (?:ends|expires|renewal)",
            "go-live",
            "next month",
            "immediately",
        ),
        "Concrete timeline",
    ),
    Signal(
        "evaluating",
        0.20,
        _rx(
            "evaluating",
            "comparing",
            "shortlist(?:ed)?",
            "rfp",
            "rfq",
            "vendor selection",
            "replacing",
            "switching from",
            "competitor",
        ),
        "Actively evaluating vendors",
    ),
    Signal(
        "engaged",
        0.05,
        _rx(
            "opened",
            "clicked",
            "webinar",
            "downloaded",
            "whitepaper",
            "ebook",
            "newsletter",
            "visited",
            "event",
            "conference",
        ),
        "Engaged with content",
    ),
    Signal(
        "passive",
        -0.25,
        _rx(
            "just browsing",
            "no timeline",
            "next year",
            "not now",
            "unsubscribed",
            "no response",
            "bounced",
            "not interested",
            "student project",
            "research project",
            "no plans",
            "out of office",
            "nur informieren",
        ),
        "Low or no buying intent",
    ),
)


class PhraseScan:
    """Which of several `_rx` patterns occur in a text, found in one regex pass instead of one
    search per pattern.

    The scan tries every pattern at each word start inside a lookahead, so matches may
    overlap; an empty group after each pattern tells which one matched first there, and the
    later ones are tried at that spot only. ASCII text is lower-cased and matched
    case-sensitively: the same answer for lower-case phrases, and much cheaper in `re`.
    The scan matches the non-word character before a word start (the text gets a leading
    space), not a lookbehind: a pattern that begins with a character class lets `re` skip
    ahead to candidates instead of trying every position."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        bodies = [_body(p) + _NOT_BEFORE_WORD for p in patterns]
        self._ascii = _Tagged(bodies, 0)
        self._unicode = _Tagged(bodies, re.IGNORECASE)

    def _prepared(self, text: str) -> tuple[_Tagged, str]:
        """The regexes for `text`, and the text as they read it (after a space)."""
        if text.isascii():
            return self._ascii, " " + text.lower()
        return self._unicode, " " + text

    def first(self, text: str) -> int | None:
        """The first pattern, in order, that matches somewhere in `text`
        (`next(i for i, p in enumerate(patterns) if p.search(text))`)."""
        tagged, text = self._prepared(text)
        best = None
        for m in tagged.scan.finditer(text):
            i = m.lastindex - 1  # type: ignore[operator]
            if best is None or i < best:
                best = i
        return best

    def indexes(self, text: str) -> list[int]:
        """The patterns that match somewhere in `text`, in order
        (`[i for i, p in enumerate(patterns) if p.search(text)]`)."""
        tagged, text = self._prepared(text)
        found: set[int] = set()
        for m in tagged.scan.finditer(text):
            i, at = m.lastindex - 1, m.end()  # type: ignore[operator]
            while True:
                found.add(i)
                later = tagged.after[i].match(text, at)
                if later is None:
                    break
                i += later.lastindex  # type: ignore[operator]
        return sorted(found)


class _Tagged:
    """`PhraseScan`'s regexes for one set of flags. `scan` finds the non-word character
    before each position where some pattern matches, with `lastindex - 1` the first of
    them; `after[i]` matches where a pattern after i does, with `lastindex` how far after."""

    def __init__(self, bodies: list[str], flags: int) -> None:
        def tagged(alternatives: list[str]) -> str:
            return "|".join(f"{b}()" for b in alternatives) or "(?!)"

        self.scan = re.compile(rf"[^\w](?={tagged(bodies)})", flags)
        self.after = [re.compile(tagged(bodies[i + 1 :]), flags) for i in range(len(bodies))]


SENIORITY_SCAN = PhraseScan([pattern for _, _, pattern in SENIORITY])
# Budget signals first, then urgency: the engine tells them apart by index.
SIGNALS = BUDGET_SIGNALS + URGENCY_SIGNALS
SIGNAL_SCAN = PhraseScan([s.pattern for s in SIGNALS])
