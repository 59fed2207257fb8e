"""The embedded rules engine: a deterministic, explainable scorer that fills the same result
as the LLM from the same input, with no network. Every sentence in its reasoning, insights,
risks and questions comes from a rule that fired."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from leadq.core.lead import LeadInput
from leadq.core.rules.icp import ICP
from leadq.core.rules.parsing import Span, parse_headcount, parse_money
from leadq.core.rules.signals import (
    BUDGET_SIGNALS,
    CJK_SENIORITY,
    SENIORITY,
    SENIORITY_SCAN,
    SIGNAL_SCAN,
    SIGNALS,
)
from leadq.core.scoring import ScoreWeights, band_action, overall

VERSION = "rules-v1"


class _Notes:
    """The sentences the rules that fired add to each list of the result."""

    __slots__ = ("insights", "positives", "questions", "risks")

    def __init__(self) -> None:
        self.insights: list[str] = []
        self.positives: list[str] = []
        self.risks: list[str] = []
        self.questions: list[str] = []


def _money(v: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"${v / size:.3g}{unit}"
    return f"${v:,.0f}"


def _clip(v: float) -> float:
    return round(min(1.0, max(0.0, v)), 3)


def seniority(title: str | None) -> tuple[str, float]:
    """The tier a job title reads as, and its authority score."""
    if not title:
        return "unknown", 0.2
    tier = SENIORITY_SCAN.first(title)
    if tier is not None:
        label, score, _ = SENIORITY[tier]
        return label, score
    for label, score, words in CJK_SENIORITY:
        if any(w in title for w in words):
            return label, score
    return "unrecognised", 0.3


def _range_fit(value: float, low: float, high: float) -> float:
    """1 inside [low, high]; falls off below (towards 0.1), gently above (0.7)."""
    if value < low:
        return 0.1 + 0.9 * (value / low) if low > 0 else 1.0
    return 1.0 if value <= high else 0.7


def _band(v: float, steps: tuple[tuple[float, float], ...]) -> float:
    for limit, score in steps:
        if v < limit:
            return score
    return steps[-1][1]


_REVENUE_STEPS = (
    (1e6, 0.15),
    (5e6, 0.35),
    (2e7, 0.55),
    (1e8, 0.7),
    (1e9, 0.85),
    (float("inf"), 0.9),
)
_SIZE_STEPS = ((10, 0.15), (50, 0.35), (200, 0.55), (1000, 0.7), (float("inf"), 0.85))
# The fields whose presence raises confidence.
_COUNTED = attrgetter(
    "industry",
    "company_size",
    "annual_revenue",
    "job_title",
    "engagement_history",
    "additional_context",
    "website",
    "email",
)
_BUDGET_COUNT = len(BUDGET_SIGNALS)  # SIGNALS below this index are budget signals


class RulesEngine:
    """Scores a lead against an ideal customer profile and a signal vocabulary."""

    def __init__(self, icp: ICP, weights: ScoreWeights) -> None:
        self.icp = icp
        self.weights = weights

    def _signals(self, text: str, notes: _Notes) -> tuple[float, float]:
        """What the signals in `text` add to budget and to urgency, in one scan for both."""
        budget = urgency = 0.0
        for i in SIGNAL_SCAN.indexes(text):
            s = SIGNALS[i]
            if i < _BUDGET_COUNT:
                budget += s.weight
            else:
                urgency += s.weight
            (notes.positives if s.weight > 0 else notes.risks).append(s.says)
        return budget, urgency

    def _fit(
        self, lead: LeadInput, employees: Span | None, revenue: Span | None, notes: _Notes
    ) -> float:
        icp, w = self.icp, self.icp.fit_weights
        industry = (lead.industry or "").lower()
        if not industry:
            ind = 0.3
        elif icp.excluded_industries.search(industry):
            ind = 0.1
            notes.risks.append(f"Industry '{lead.industry}' is outside the target profile")
        elif icp.target_industries.search(industry):
            ind = 1.0
            notes.positives.append(f"Target industry: {lead.industry}")
        elif icp.adjacent_industries.search(industry):
            ind = 0.6
            notes.insights.append(f"Adjacent industry: {lead.industry}")
        else:
            ind = 0.35
            notes.insights.append(f"Industry '{lead.industry}' is not in the profile")
        size = (
            0.4
            if employees is None
            else _range_fit(employees.mid, icp.employees_min, icp.employees_max)
        )
        rev = (
            0.4
            if revenue is None
            else _range_fit(revenue.mid, icp.revenue_min_usd, icp.revenue_max_usd)
        )
        title = (lead.job_title or "").lower()
        ttl = 0.4 if not title else (1.0 if icp.title_keywords.search(title) else 0.5)
        return w["industry"] * ind + w["size"] * size + w["revenue"] * rev + w["title"] * ttl

    def answer(self, lead: LeadInput) -> dict[str, Any]:
        """The result fields, in the same shape the LLM is asked for."""
        notes = _Notes()
        employees = parse_headcount(lead.company_size)
        revenue = parse_money(lead.annual_revenue)
        text = " ".join(filter(None, (lead.engagement_history, lead.additional_context)))

        tier, authority = seniority(lead.job_title)
        notes.insights.append(
            f"Title '{lead.job_title}' reads as {tier} level"
            if lead.job_title
            else "No job title given"
        )
        fit = self._fit(lead, employees, revenue, notes)

        parts = []
        if revenue is not None:
            mid = revenue.mid
            parts.append((0.6, _band(mid, _REVENUE_STEPS)))
            notes.insights.append(f"Revenue '{lead.annual_revenue}' is about {_money(mid)}")
        elif lead.annual_revenue:
            notes.risks.append(f"Revenue '{lead.annual_revenue}' could not be read")
        if employees is not None:
            mid = employees.mid
            parts.append((0.4, _band(mid, _SIZE_STEPS)))
            notes.insights.append(f"About {mid:,.0f} employees")
        elif lead.company_size:
            notes.risks.append(f"Company size '{lead.company_size}' could not be read")
        budget = (sum(w * s for w, s in parts) / sum(w for w, _ in parts)) if parts else 0.3
        budget_signals, urgency_signals = self._signals(text, notes)
        budget += budget_signals
        urgency = 0.2 + urgency_signals if text else 0.15

        scores = {
            "fit_score": _clip(fit),
            "budget_score": _clip(budget),
            "urgency_score": _clip(urgency),
            "authority_score": _clip(authority),
        }
        present = sum(map(bool, _COUNTED(lead)))
        unread = (lead.annual_revenue and revenue is None) or (
            lead.company_size and employees is None
        )
        confidence = _clip(0.3 + 0.08 * present - (0.1 if unread else 0.0))

        if scores["budget_score"] < 0.5:
            notes.questions.append("What budget is set aside for this, and who approves it?")
        if scores["urgency_score"] < 0.5:
            notes.questions.append("What would make this a priority, and by when?")
        if authority < 0.65:
            notes.questions.append("Who else is involved in the decision?")
        if employees is None:
            notes.questions.append(f"How many people work at {lead.company_name}?")
        if not lead.industry:
            notes.questions.append(f"What does {lead.company_name} do, and for whom?")

        score = overall(scores, self.weights)
        action = band_action(score)
        act = action.value
        first = lead.lead_name.split()[0]
        return {
            **scores,
            "confidence": confidence,
            "recommended_action": action,
            "reasoning": (
                f"Rules engine: fit {scores['fit_score']:.2f}, "
                f"budget {scores['budget_score']:.2f}, "
                f"urgency {scores['urgency_score']:.2f}, authority {authority:.2f} "
                f"({tier} title). " + "; ".join((notes.positives + notes.risks)[:4])
            ).strip(),
            "reasoning_for_action": f"Overall score {score:.2f} falls in the {act} band.",
            "key_insights": notes.insights,
            "positive_indicators": notes.positives,
            "risk_factors": notes.risks,
            "follow_up_questions": notes.questions,
            "suggested_messaging": _message(act, first, lead.company_name),
        }


_MESSAGES = {
    "immediate_outreach": "Hi {first}, thanks for your interest in us. Teams like {company} "
    "usually want to see it on their own data: would 20 minutes this "
    "week work for a tailored walkthrough?",
    "qualified_nurture": "Hi {first}, I put together a short note on how teams like {company} "
    "approach this. Happy to share it, and to talk when the timing suits.",
    "followup_research": "Hi {first}, I'd love to learn how {company} handles this today. "
    "What are you working on this quarter?",
    "not_qualified": "Hi {first}, thanks for reaching out. Here are some resources that may "
    "help {company} in the meantime.",
}


def _message(action: str, first: str, company: str) -> str:
    return _MESSAGES.get(action, _MESSAGES["followup_research"]).format(
        first=first, company=company
    )
