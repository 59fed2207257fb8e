"""The result policy every backend shares: what turns a model's (or the rules engine's) answer
into a validated, bounded result.

Scores are clamped to [0, 1] (flagged), `overall_score` is the configured weighted mean,
the action follows the documented bands (flagged when changed; with
LEADQ_ACTION_BASIS=probability and an active conversion model, that model's probability bands
instead: `follow_probability`), missing critical facts force
manual_review, a suspected prompt injection forces manual_review and caps the scores (a
suspect lead's component scores may not exceed what the rules engine gives it with the
flagged fields removed, so text that tries to steer the model can only lower a score), lists
and texts are capped, a lead whose free text was cut to its limit is flagged, and cost comes
from usage times the price table."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from leadq.core.answer import ModelAnswer
from leadq.core.errors import BadProviderAnswer
from leadq.core.lead import LeadInput
from leadq.core.prices import cost_of
from leadq.core.result import Action, Flag, PartialResult, QualificationResult, Usage
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.core.scoring import (
    COMPONENTS,
    ScoreWeights,
    band_action,
    clamp,
    overall,
    settle_action,
)
from leadq.core.screening.screen import Finding, screen

SCORE_FIELDS = (*COMPONENTS, "confidence")  # what the answer scores; overall is computed
LIST_FIELDS = QualificationResult.LIST_FIELDS
ANSWER_FIELDS = frozenset(ModelAnswer.model_fields)
MAX_ITEMS = 8
MAX_ITEM_CHARS = 400
MAX_TEXT_CHARS = 2000


# ---- a suspected prompt injection ------------------------------------------------------

WITHHELD = "(withheld)"  # stands in for a flagged required field (name, company)
REQUIRED = ("lead_name", "company_name")


def without(lead: LeadInput, finding: Finding) -> LeadInput:
    """`lead` with the flagged fields removed (a whole field: the rest of an injected field
    cannot be trusted either); a flagged attribute (`attributes.<name>`) is removed alone."""
    update: dict[str, Any] = {}
    flagged = {f.removeprefix("attributes.") for f in finding.fields if f.startswith("attributes.")}
    if flagged:
        kept = {k: v for k, v in (lead.attributes or {}).items() if k not in flagged}
        update["attributes"] = kept or None
    for field in finding.fields:
        if not field.startswith("attributes."):
            update[field] = WITHHELD if field in REQUIRED else None
    return lead.model_copy(update=update)


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


# ---- the policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultContext:
    """What a result records about where it came from."""

    provider: str
    model: str
    prompt_version: str
    weights: ScoreWeights
    prices_file: Path | None = None
    icp_file: Path | None = None  # the rules engine's profile, for the injection ceiling


def _cap_list(items: list[str]) -> tuple[list[str], bool]:
    kept = [t[:MAX_ITEM_CHARS] for s in items if (t := s.strip())]
    return kept[:MAX_ITEMS], len(kept) > MAX_ITEMS


RULES_PROVIDER = "rules"  # `ResultContext.provider` of the rules engine's results


def _action_note(
    action: Action,
    proposed: Action,
    missing: list[str],
    suspect: Finding | None,
    ctx: ResultContext,
) -> str:
    """Why the policy changed the answer's action, in plain words for the person reading the
    result. A model's own proposal is named; the rules engine has no model to name."""
    reasons = []
    if missing:
        reasons.append(f"critical information is missing ({', '.join(missing)})")
    if suspect is not None:
        reasons.append(f"there is a suspected prompt injection in {', '.join(suspect.fields)}")
    if not reasons:
        reasons.append(
            "a person should review this lead"
            if action is Action.MANUAL_REVIEW
            else f"the overall score falls in the {action.value} band"
        )
    note = f"Action set to {action.value} because {' and '.join(reasons)}"
    if ctx.provider == RULES_PROVIDER:
        return f"{note}."
    return f"{note}; the model proposed {proposed.value}."


def finalize(
    answer: dict[str, Any],
    lead: LeadInput,
    missing: list[str],
    ctx: ResultContext,
    *,
    usage: Usage | None = None,
    latency_ms: float = 0.0,
    forced_review: bool = False,
) -> QualificationResult:
    """Validate `answer` (raising `BadProviderAnswer` naming the field) and apply the policy."""
    try:
        parsed = ModelAnswer.model_validate(answer)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "answer"
        raise BadProviderAnswer(
            f"the model's answer does not fit the schema: {where}: {err['msg']}",
            answer=json.dumps(answer, ensure_ascii=False),
        ) from None
    return _apply_policy(
        vars(parsed),
        lead,
        missing,
        ctx,
        usage=usage,
        latency_ms=latency_ms,
        forced_review=forced_review,
    )


def finalize_trusted(
    answer: dict[str, Any],
    lead: LeadInput,
    missing: list[str],
    ctx: ResultContext,
    *,
    latency_ms: float = 0.0,
) -> QualificationResult:
    """`finalize` for an answer our own code built (the rules engine), which already has
    `ModelAnswer`'s fields and types (`recommended_action` an `Action`), so it is not
    validated against the schema again: this is the rules engine's hot path. The policy
    applied, and the validated `QualificationResult` it builds, are the same as
    `finalize`'s."""
    return _apply_policy(answer, lead, missing, ctx, usage=None, latency_ms=latency_ms)


def _apply_policy(
    answer: dict[str, Any],
    lead: LeadInput,
    missing: list[str],
    ctx: ResultContext,
    *,
    usage: Usage | None,
    latency_ms: float,
    forced_review: bool = False,
) -> QualificationResult:
    """Clamp, weigh, settle the action and cap an answer with `ModelAnswer`'s field types."""
    flags: list[Flag] = []
    scores: dict[str, float] = {}
    for name in SCORE_FIELDS:
        try:
            scores[name], changed = clamp(answer[name])
        except ValueError:
            raise BadProviderAnswer(f"the model's {name} is not a finite number") from None
        if changed and Flag.SCORE_CLAMPED not in flags:
            flags.append(Flag.SCORE_CLAMPED)
    suspect = contain(lead, scores, ctx.icp_file, ctx.weights)  # caps the scores if suspect
    if suspect is not None:
        flags.append(Flag.SUSPECTED_INJECTION)
    overall_score = overall(scores, ctx.weights)
    proposed: Action = answer["recommended_action"]
    action, action_flags = settle_action(
        proposed,
        overall_score,
        scores["confidence"],
        missing_critical=bool(missing),
        forced_review=forced_review or suspect is not None,
    )
    flags.extend(action_flags)
    why = answer["reasoning_for_action"].strip()[:MAX_TEXT_CHARS]
    if action is not proposed:
        why = f"{why} {_action_note(action, proposed, missing, suspect, ctx)}".strip()
    lists: dict[str, list[str]] = {}
    for name in LIST_FIELDS:
        lists[name], cut = _cap_list(answer[name])
        if cut and Flag.LIST_TRUNCATED not in flags:
            flags.append(Flag.LIST_TRUNCATED)
    if missing:
        lists["risk_factors"].insert(0, f"Missing critical information: {', '.join(missing)}")
    if suspect is not None:
        lists["risk_factors"].insert(
            0,
            f"{suspect.reason()}. Scores are capped at the rules engine's for the lead without "
            "that text; a person should review it.",
        )
    if lead.truncated:
        flags.append(Flag.TEXT_TRUNCATED)
    usage = usage or Usage()
    # One dict to `model_validate`, not keywords to the constructor: the same validation,
    # without `__init__`'s round trip through keywords, for every result built.
    return QualificationResult.model_validate(
        {
            "overall_score": overall_score,
            **{k: round(v, 3) for k, v in scores.items()},
            "reasoning": answer["reasoning"].strip()[:MAX_TEXT_CHARS],
            **lists,
            "recommended_action": action,
            "reasoning_for_action": why,
            "suggested_messaging": answer["suggested_messaging"].strip()[:MAX_TEXT_CHARS] or None,
            "lead_id": lead.lead_id,
            "provider": ctx.provider,
            "model": ctx.model,
            "prompt_version": ctx.prompt_version,
            "latency_ms": round(latency_ms, 2),
            "usage": usage,
            "cost_usd": cost_of(usage, ctx.provider, ctx.model, ctx.prices_file),
            "flags": flags,
        }
    )


def follow_probability(
    result: QualificationResult, bands: Sequence[tuple[float, Action]], model: int | None
) -> QualificationResult:
    """`result` (in place) with the action its conversion probability's band gives, by the
    model's `bands` (LEADQ_ACTION_BASIS=probability). A manual_review the policy set (missing
    facts, a suspected injection, a low-confidence model's own choice) stays; a result with no
    probability, or a model with no bands, is left as it is. A moved action is flagged
    `action_adjusted`, as one the score's band moved is."""
    p = result.conversion_probability
    if p is None or not bands or result.recommended_action is Action.MANUAL_REVIEW:
        return result
    action = band_action(p, bands)
    result.action_basis = "probability"
    if action is not result.recommended_action:
        note = (
            f"Action set to {action.value} because the conversion probability ({p:.0%}) falls "
            f"in conversion model {model}'s {action.value} band; the overall score's band is "
            f"{result.recommended_action.value}."
        )
        result.reasoning_for_action = f"{result.reasoning_for_action} {note}".strip()
        result.recommended_action = action
        if Flag.ACTION_ADJUSTED not in result.flags:
            result.flags.append(Flag.ACTION_ADJUSTED)
    return result


def partial_view(
    data: dict[str, Any],
    missing: list[str],
    weights: ScoreWeights,
    caps: dict[str, float] | None = None,
) -> PartialResult:
    """What a stream shows before the answer is complete: known fields, scores clamped, and
    the overall score and action as soon as the scores they depend on are in. `caps` (for a
    suspected injection) limits the component scores and makes the action manual_review."""
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if key not in ANSWER_FIELDS or key == "recommended_action":
            continue
        if key in SCORE_FIELDS:
            if isinstance(value, (int, float)) and math.isfinite(value):
                score = clamp(float(value))[0]
                fields[key] = round(min(score, caps.get(key, 1.0)) if caps else score, 3)
        else:
            fields[key] = value
    if all(c in fields for c in COMPONENTS):
        fields["overall_score"] = overall(fields, weights)
        proposed = data.get("recommended_action")
        if (
            "confidence" in fields
            and isinstance(proposed, str)
            and proposed in Action._value2member_map_
        ):
            fields["recommended_action"] = settle_action(
                Action(proposed),
                fields["overall_score"],
                fields["confidence"],
                missing_critical=bool(missing),
                forced_review=caps is not None,
            )[0].value
    return PartialResult(fields=fields)
