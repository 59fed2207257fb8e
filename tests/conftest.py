"""Shared fixtures. Every test runs in its own temp directory with leadq's environment
variables cleared, so a developer's `.env` or key can never reach a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadq.config import Settings

pytest_plugins = ["tests.support.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "leads.csv"

ENV_VARS = [
    name
    for field in Settings.model_fields.values()
    for name in getattr(field.validation_alias, "choices", [])
    if name.isupper()
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def strong_lead() -> dict[str, str]:
    return {
        "lead_id": "L-1",
        "lead_name": "John Doe",
        "company_name": "Acme Corp",
        "industry": "SaaS",
        "company_size": "100-500",
        "annual_revenue": "$10M",
        "job_title": "VP Sales",
        "website": "acme.example.com",
        "engagement_history": "Visited pricing 3x, requested a demo",
        "additional_context": "Recently funded Series B, evaluating vendors this quarter",
    }
