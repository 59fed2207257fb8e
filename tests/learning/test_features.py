"""Types are inferred from the values, rare values are pooled, missing is its own value, and
the rules engine's scores and signals are features."""

from __future__ import annotations

from leadq.core.lead import LeadInput
from leadq.learning.features import (
    MISSING,
    OTHER,
    FeatureSpec,
    label_of,
    lead_record,
    llm_scores,
    rules_scores,
)
from tests.learning.synthetic import engine


def test_types_levels_and_ids_are_inferred_from_values() -> None:
    records = [
        {
            "attr.Plan": "gold" if i % 2 else "silver",
            "attr.Rare": "common" if i < 195 else f"odd{i}",
            "attr.Amount": str(i % 37) if i % 10 else None,
            "attr.Row": float(i),
            "attr.Blank": None,
        }
        for i in range(200)
    ]
    spec = FeatureSpec.fit(records)
    by_key = {c.key: c for c in spec.columns}
    assert by_key["attr.Plan"].kind == "category"
    assert sorted(by_key["attr.Plan"].levels[:2]) == ["gold", "silver"]
    assert by_key["attr.Plan"].levels[2:] == [OTHER, MISSING]
    assert by_key["attr.Rare"].levels == ["common", OTHER, MISSING]  # odd195.. pooled
    amount = by_key["attr.Amount"]
    assert amount.kind == "number"
    assert amount.has_missing
    assert amount.edges  # enough distinct values for quantile bins
    assert "attr.Row" in spec.ignored  # a different whole number on every row
    assert spec.ignored["attr.Blank"] == "always empty"
    # An unseen value reads as "other"; a missing one as its own level.
    row = spec.encode({"attr.Plan": "platinum", "attr.Rare": None, "attr.Amount": "5"})
    plan = by_key["attr.Plan"]
    assert (plan.start + 2, 1.0) in row
    assert (by_key["attr.Rare"].start + 2, 1.0) in row
    assert plan.shown("platinum") == "another value"
    assert by_key["attr.Rare"].shown(None) == "missing"


def test_a_lead_record_has_the_rules_scores_signals_fields_and_attributes() -> None:
    lead = LeadInput.parse(
        {
            "lead_name": "Ana",
            "company_name": "Acme",
            "job_title": "VP Sales",
            "engagement_history": "They just closed a Series B funding round",
            "attributes": {"Lead Source": "Webinar", "Visits": 4},
        }
    )
    record = lead_record(lead, rules_scores(engine(), lead))
    assert 0 <= float(record["rules.overall_score"] or 0) <= 1
    assert {"rules.fit_score", "rules.authority_score"} <= record.keys()
    assert any(k.startswith("signal.") for k in record)
    assert record["field.job_title"] == "VP Sales"
    assert record["attr.Lead Source"] == "Webinar"
    assert record["attr.Visits"] == 4


def test_an_llms_scores_are_features_and_the_rules_engines_results_add_none() -> None:
    lead = LeadInput.parse({"lead_name": "A", "company_name": "B", "industry": "SaaS"})
    scores = rules_scores(engine(), lead)
    llm = {"provider": "anthropic", "fit_score": 0.9, "budget_score": 0.5}
    llm |= {"urgency_score": 0.4, "authority_score": 0.7, "overall_score": 0.66}
    record = lead_record(lead, scores, llm_scores(llm))
    assert record["llm.fit_score"] == 0.9
    assert record["llm.overall_score"] == 0.66
    assert record["rules.fit_score"] == scores["fit_score"]  # the rules engine's, beside them
    assert label_of("llm.fit_score") == "LLM fit score"
    assert llm_scores({**llm, "provider": "rules"}) is None
    assert llm_scores({**llm, "fit_score": None}) is None  # a stored result missing one
    assert not any(k.startswith("llm.") for k in lead_record(lead, scores))
