"""What a suspected prompt injection does to a result, whichever backend produced it: the
four component scores may not exceed what the rules engine gives the same lead with the
flagged fields removed, so text that tries to steer the model can only lower a score. (The
action becomes manual_review and the result is flagged: see `chain/postprocess.py`.)"""

from __future__ import annotations

from pathlib import Path

from leadq.core.lead import LeadInput
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.core.scoring import COMPONENTS, ScoreWeights
from leadq.core.screening.screen import Finding, screen

WITHHELD = "(withheld)"  # stands in for a flagged required field (name, company)
REQUIRED = ("lead_name", "company_name")


def without(lead: LeadInput, finding: Finding) -> LeadInput:
    """`lead` with the flagged fields removed (a whole field: the rest of an injected field
    cannot be trusted either)."""
    return lead.model_copy(update={f: WITHHELD if f in REQUIRED else None for f in finding.fields})


def ceiling(
    lead: LeadInput, finding: Finding, icp_file: Path | None, weights: ScoreWeights
) -> dict[str, float]:
    """The component scores the rules engine gives `lead` without its flagged fields."""
    answer = RulesEngine(load_icp(icp_file), weights).answer(without(lead, finding))
    return {name: answer[name] for name in COMPONENTS}


def contain(
    lead: LeadInput,
    scores: dict[str, float],
    icp_file: Path | None,
    weights: ScoreWeights,
) -> Finding | None:
    """Screen `lead`; if it is suspect, lower its component `scores` (in place) to the
    ceiling and return what was found. None, and `scores` unchanged, for a clean lead."""
    finding = screen(lead)
    if finding is not None:
        for name, cap in ceiling(lead, finding, icp_file, weights).items():
            if name in scores:
                scores[name] = min(scores[name], cap)
    return finding
