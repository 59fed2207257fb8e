"""The vocabulary the rules engine reads titles and engagement text with. Each signal has a
weight and the sentence a person sees when it fires."""

from __future__ import annotations

import re
from dataclasses import dataclass


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


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
