import csv
import json
from pathlib import Path

import pytest

from leadq import LeadQualifier
from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.result import Action, Flag, QualificationResult
from leadq.core.rules.engine import seniority
from leadq.core.scoring import COMPONENTS, overall
from tests.conftest import EXAMPLES


@pytest.fixture
def rules() -> RulesBackend:
    return RulesBackend(Settings())


def q(rules: RulesBackend, **fields):
    return rules.qualify_now(
        LeadInput.parse({"lead_name": "Ann Lee", "company_name": "Co", **fields})
    )


@pytest.mark.parametrize(
    ("title", "tier"),
    [
        ("CEO", "C-level"),
        ("Co-Founder & CTO", "C-level"),
        ("Geschäftsführerin", "C-level"),
        ("VP of Sales", "VP"),
        ("Head of Growth", "VP"),
        ("Director, Marketing", "director"),
        ("Sales Manager", "manager"),
        ("Account Executive", "individual contributor"),
        ("Marketing Intern", "junior"),
        ("Executive Assistant to the CEO", "junior"),
        ("営業部長", "director"),
        (None, "unknown"),
        ("Wizard", "unrecognised"),
    ],
)
def test_seniority(title, tier) -> None:
    assert seniority(title)[0] == tier


def test_strong_lead_gets_outreach_with_reasons(rules, strong_lead) -> None:
    res = rules.qualify_now(LeadInput.parse(strong_lead))
    assert res.recommended_action is Action.IMMEDIATE_OUTREACH
    assert res.provider == "rules"
    assert res.lead_id == "L-1"
    assert res.flags == []
    assert "Demo requested" in res.positive_indicators
    assert "Recent funding" in res.positive_indicators
    assert any("VP level" in s for s in res.key_insights)


def test_weak_lead_is_not_qualified(rules) -> None:
    res = q(
        rules,
        industry="Retail",
        company_size="3",
        annual_revenue="$50k",
        job_title="Intern",
        engagement_history="Just browsing, unsubscribed",
    )
    assert res.recommended_action is Action.NOT_QUALIFIED
    assert "Low or no buying intent" in res.risk_factors
    assert res.overall_score < 0.35


def test_missing_facts_go_to_manual_review(rules) -> None:
    res = q(rules, job_title="CTO")
    assert res.recommended_action is Action.MANUAL_REVIEW
    assert Flag.MISSING_CRITICAL_INFO in res.flags


def test_odd_revenue_formats_are_read(rules) -> None:
    euro = q(rules, industry="SaaS", job_title="CTO", annual_revenue="EUR 2.5bn")
    small = q(rules, industry="SaaS", job_title="CTO", annual_revenue="£750k")
    assert euro.budget_score > small.budget_score
    assert any("$2.7B" in s for s in euro.key_insights)


def test_unreadable_revenue_is_a_risk_and_lowers_confidence(rules) -> None:
    bad = q(rules, industry="SaaS", job_title="CTO", annual_revenue="lots")
    good = q(rules, industry="SaaS", job_title="CTO", annual_revenue="$10M")
    assert "Revenue 'lots' could not be read" in bad.risk_factors
    assert bad.confidence < good.confidence


def test_engagement_raises_urgency(rules) -> None:
    cold = q(rules, industry="SaaS", job_title="CTO", company_size="200")
    warm = q(
        rules,
        industry="SaaS",
        job_title="CTO",
        company_size="200",
        engagement_history="Requested a demo, on a free trial, decision this quarter",
    )
    assert warm.urgency_score > cold.urgency_score + 0.4


def test_deterministic(rules, strong_lead) -> None:
    a = rules.qualify_now(LeadInput.parse(strong_lead)).model_dump(exclude={"latency_ms"})
    b = rules.qualify_now(LeadInput.parse(strong_lead)).model_dump(exclude={"latency_ms"})
    assert a == b


def test_custom_icp_file_changes_fit(tmp_path, strong_lead) -> None:
    icp = tmp_path / "icp.toml"
    icp.write_text('target_industries = ["mining"]\nexcluded_industries = ["saas"]\n')
    custom = RulesBackend(Settings(icp_file=icp)).qualify_now(LeadInput.parse(strong_lead))
    default = RulesBackend(Settings()).qualify_now(LeadInput.parse(strong_lead))
    assert custom.fit_score < default.fit_score


GOLDEN = Path(__file__).parent / "data" / "leads_csv_rules.json"


def _example_rows() -> list[dict[str, str]]:
    with EXAMPLES.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_example_leads_give_the_recorded_results() -> None:
    """examples/leads.csv through the public API gives exactly what the rules engine gave
    before it was made faster (recorded in data/leads_csv_rules.json)."""
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    qualifier = LeadQualifier(Settings(provider="rules"))
    try:
        got = [o.model_dump(mode="json") for o in qualifier.qualify_leads_batch(_example_rows())]
    finally:
        qualifier.close()
    assert [{k: g[k] for k in w} for g, w in zip(got, want, strict=True)] == want


def test_results_are_bounded_and_typed(rules) -> None:
    for row in _example_rows():
        if not row["lead_name"]:
            continue
        res = rules.qualify_now(LeadInput.parse(row))
        again = QualificationResult.model_validate(res.model_dump())
        assert again == res
        scores = [getattr(res, f) for f in (*COMPONENTS, "overall_score", "confidence")]
        assert all(type(s) is float and 0.0 <= s <= 1.0 for s in scores)
        assert res.overall_score == overall(res.model_dump(), Settings().score_weights)
        assert type(res.recommended_action) is Action
        assert all(type(f) is Flag for f in res.flags)
        assert len(res.positive_indicators) <= 8
        assert res.latency_ms >= 0
