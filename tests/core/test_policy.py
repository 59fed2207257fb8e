import csv

import pytest

from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.errors import BadProviderAnswer
from leadq.core.lead import LeadInput
from leadq.core.policy import (
    ResultContext,
    finalize,
    finalize_trusted,
    follow_probability,
    partial_view,
)
from leadq.core.result import Action, Flag, Usage
from leadq.core.scoring import ScoreWeights, missing_critical_fields
from tests.conftest import EXAMPLES

CTX = ResultContext("cerebras", "gpt-oss-120b", "v1", ScoreWeights())
LEAD = LeadInput.parse(
    {
        "lead_name": "A",
        "company_name": "B",
        "industry": "SaaS",
        "job_title": "CTO",
        "annual_revenue": "$10M",
    }
)


def answer(**over):
    base = {
        "fit_score": 0.8,
        "budget_score": 0.7,
        "urgency_score": 0.6,
        "authority_score": 0.9,
        "confidence": 0.8,
        "recommended_action": "immediate_outreach",
        "reasoning": "r",
        "reasoning_for_action": "why",
        "key_insights": ["k"],
        "positive_indicators": ["p"],
        "risk_factors": [],
        "follow_up_questions": ["q"],
        "suggested_messaging": "hi",
    }
    return {**base, **over}


def test_overall_computed_and_action_kept_when_consistent() -> None:
    res = finalize(answer(), LEAD, [], CTX)
    assert res.overall_score == round(0.35 * 0.8 + 0.25 * 0.7 + 0.2 * 0.6 + 0.2 * 0.9, 3)
    assert res.recommended_action is Action.IMMEDIATE_OUTREACH
    assert res.flags == []


def test_model_overall_is_ignored() -> None:
    assert finalize(answer(overall_score=0.01), LEAD, [], CTX).overall_score > 0.7


def test_out_of_range_scores_clamped_and_flagged() -> None:
    res = finalize(answer(fit_score=10.5, confidence=10.5, budget_score=-3), LEAD, [], CTX)
    assert res.fit_score == 1.0
    assert res.confidence == 1.0
    assert res.budget_score == 0.0
    assert Flag.SCORE_CLAMPED in res.flags


def test_contradicting_action_adjusted_with_explanation() -> None:
    res = finalize(
        answer(fit_score=0.1, budget_score=0.1, urgency_score=0.1, authority_score=0.1),
        LEAD,
        [],
        CTX,
    )
    assert res.recommended_action is Action.NOT_QUALIFIED
    assert Flag.ACTION_ADJUSTED in res.flags
    assert res.reasoning_for_action == (
        "why Action set to not_qualified because the overall score falls in the not_qualified "
        "band; the model proposed immediate_outreach."
    )


RULES_CTX = ResultContext("rules", "rules-v1", "rules", ScoreWeights())


def test_an_override_on_the_rules_engine_names_no_model() -> None:
    """The rules engine has no model: the note gives the reason alone, in plain words."""
    rules = _typed(answer(reasoning_for_action="Overall score 0.79 falls in the band."))
    res = finalize_trusted(rules, LEAD, ["industry", "job_title"], RULES_CTX)
    assert res.recommended_action is Action.MANUAL_REVIEW
    assert res.reasoning_for_action == (
        "Overall score 0.79 falls in the band. Action set to manual_review because critical "
        "information is missing (industry, job_title)."
    )
    assert "model" not in res.reasoning_for_action


def test_an_override_note_has_no_bracketed_internal_text() -> None:
    for ctx in (CTX, RULES_CTX):
        res = finalize(answer(fit_score=0.1, budget_score=0.1), LEAD, ["industry"], ctx)
        assert res.recommended_action is Action.MANUAL_REVIEW
        assert "[" not in res.reasoning_for_action
        assert "leadq:" not in res.reasoning_for_action
        assert "Action set to manual_review because critical information is missing" in (
            res.reasoning_for_action
        )


def test_missing_info_means_manual_review_and_a_risk() -> None:
    res = finalize(answer(), LEAD, ["job_title"], CTX)
    assert res.recommended_action is Action.MANUAL_REVIEW
    assert res.risk_factors[0].startswith("Missing critical information: job_title")


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"fit_score": "high"}, "fit_score"),
        ({"recommended_action": "call_now"}, "recommended_action"),
        ({"fit_score": float("nan")}, "fit_score"),
    ],
)
def test_schema_violations_name_the_field(bad, field) -> None:
    with pytest.raises(BadProviderAnswer, match=field):
        finalize(answer(**bad), LEAD, [], CTX)


def test_missing_field_is_a_bad_answer() -> None:
    data = answer()
    del data["reasoning"]
    with pytest.raises(BadProviderAnswer, match="reasoning"):
        finalize(data, LEAD, [], CTX)


def test_long_lists_capped_and_flagged() -> None:
    res = finalize(answer(key_insights=[f"i{n}" for n in range(30)]), LEAD, [], CTX)
    assert len(res.key_insights) == 8
    assert Flag.LIST_TRUNCATED in res.flags


def test_cost_from_usage_and_price_table() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, total_tokens=2_000_000)
    assert finalize(answer(), LEAD, [], CTX, usage=usage).cost_usd == pytest.approx(1.10)
    unpriced = ResultContext("openai", "some-local-model", "v1", ScoreWeights())
    assert finalize(answer(), LEAD, [], unpriced, usage=usage).cost_usd is None


def test_partial_view_clamps_and_settles_when_it_can() -> None:
    view = partial_view({"fit_score": 3.0, "reasoning": "par"}, [], ScoreWeights()).fields
    assert view == {"fit_score": 1.0, "reasoning": "par"}
    full = partial_view(answer(), [], ScoreWeights()).fields
    assert full["recommended_action"] == "immediate_outreach"
    assert "overall_score" in full


def _typed(data: dict) -> dict:
    """`answer()` with the types the rules engine hands `finalize_trusted`."""
    return {**data, "recommended_action": Action(data["recommended_action"])}


def _same(a, b) -> bool:
    return a.model_dump(exclude={"latency_ms"}) == b.model_dump(exclude={"latency_ms"})


@pytest.mark.parametrize(
    ("over", "missing"),
    [
        ({}, []),
        ({"fit_score": 10.5, "confidence": -1, "budget_score": 1.0000001}, []),
        ({"fit_score": 0.1, "budget_score": 0.1, "urgency_score": 0.1}, []),
        ({"recommended_action": "manual_review", "confidence": 0.2}, []),
        ({}, ["industry", "company_size/annual_revenue"]),
        (
            {"key_insights": [f" i{n} " for n in range(30)], "risk_factors": ["", " ", "x" * 900]},
            [],
        ),
        ({"reasoning": "  r  ", "suggested_messaging": "   ", "reasoning_for_action": " w "}, []),
    ],
)
def test_trusted_path_applies_the_same_rules(over, missing) -> None:
    data = answer(**over)
    trusted = finalize_trusted(_typed(data), LEAD, list(missing), CTX, latency_ms=1.234)
    checked = finalize(data, LEAD, list(missing), CTX, latency_ms=1.234)
    assert trusted == checked
    assert 0.0 <= trusted.overall_score <= 1.0
    assert 0.0 <= trusted.fit_score <= 1.0


def test_trusted_path_still_refuses_scores_that_are_not_numbers() -> None:
    with pytest.raises(BadProviderAnswer, match="fit_score"):
        finalize_trusted(_typed(answer(fit_score=float("nan"))), LEAD, [], CTX)


def test_rules_results_are_what_the_validating_path_gives() -> None:
    backend = RulesBackend(Settings())
    with EXAMPLES.open(encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["lead_name"]]
    for row in rows:
        lead = LeadInput.parse(row)
        missing = missing_critical_fields(lead.present())
        checked = finalize(backend.engine.answer(lead), lead, missing, backend.ctx)
        assert _same(backend.qualify_now(lead), checked)


BANDS = (
    (0.6, Action.IMMEDIATE_OUTREACH),
    (0.3, Action.QUALIFIED_NURTURE),
    (0.0, Action.NOT_QUALIFIED),
)


def test_the_action_follows_the_probability_bands_when_asked() -> None:
    res = finalize(answer(), LEAD, [], CTX)  # outreach by its score
    assert Flag.ACTION_ADJUSTED not in res.flags
    res.conversion_probability = 0.2
    follow_probability(res, BANDS, 4)
    assert res.recommended_action is Action.NOT_QUALIFIED
    assert res.action_basis == "probability"
    assert res.reasoning_for_action == (
        "why Action set to not_qualified because the conversion probability (20%) falls in "
        "conversion model 4's not_qualified band; the overall score's band is immediate_outreach."
    )
    assert res.overall_score > 0.7  # the score keeps its meaning
    assert res.flags.count(Flag.ACTION_ADJUSTED) == 1
    same = finalize(answer(), LEAD, [], CTX)
    same.conversion_probability = 0.7
    follow_probability(same, BANDS, 4)
    assert (same.recommended_action, same.action_basis) == (
        Action.IMMEDIATE_OUTREACH,
        "probability",
    )
    assert same.reasoning_for_action == "why"  # nothing changed: nothing to explain
    assert Flag.ACTION_ADJUSTED not in same.flags


def test_a_review_no_probability_or_no_bands_leave_the_action() -> None:
    review = finalize(answer(), LEAD, ["industry"], CTX)
    review.conversion_probability = 0.9
    no_probability = finalize(answer(), LEAD, [], CTX)
    no_bands = finalize(answer(), LEAD, [], CTX)
    no_bands.conversion_probability = 0.1
    follow_probability(review, BANDS, 4)
    follow_probability(no_probability, BANDS, 4)
    follow_probability(no_bands, (), 4)
    assert (review.recommended_action, review.action_basis) == (Action.MANUAL_REVIEW, "score")
    assert no_probability.recommended_action is Action.IMMEDIATE_OUTREACH
    assert no_probability.action_basis == "score"
    assert (no_bands.recommended_action, no_bands.action_basis) == (
        Action.IMMEDIATE_OUTREACH,
        "score",
    )
