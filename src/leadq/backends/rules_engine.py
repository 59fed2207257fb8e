"""The rules engine behind the backend contract: local, deterministic, no network."""

from __future__ import annotations

import time
from typing import Any

from leadq.backends.base import Backend
from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.policy import ResultContext, finalize_trusted
from leadq.core.result import QualificationResult
from leadq.core.rules.engine import VERSION, RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.core.scoring import missing_critical_fields


class RulesBackend(Backend):
    """Qualifies leads locally and deterministically. Results pass the same result policy
    (`core/policy.py`: bands, missing facts) as the LLM's, minus re-validating the engine's
    own answer."""

    is_local = True
    provider = "rules"
    model = VERSION

    def __init__(self, settings: Settings) -> None:
        self.engine = RulesEngine(load_icp(settings.icp_file), settings.score_weights)
        self.ctx = ResultContext(
            "rules",
            VERSION,
            "rules",
            settings.score_weights,
            settings.prices_file,
            icp_file=settings.icp_file,
        )

    def describe(self) -> dict[str, Any]:
        return {"provider": "rules", "model": VERSION, "configured": True}

    def qualify_now(self, lead: LeadInput) -> QualificationResult:
        t0 = time.perf_counter()
        answer = self.engine.answer(lead)
        return finalize_trusted(
            answer,
            lead,
            missing_critical_fields(lead.present()),
            self.ctx,
            latency_ms=(time.perf_counter() - t0) * 1000,
        )

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        return self.qualify_now(lead)
