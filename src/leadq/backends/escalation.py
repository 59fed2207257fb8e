"""`LEADQ_ESCALATE_BELOW` / `LEADQ_ESCALATE_TO`: a result less confident than the threshold is
qualified again by a stronger model, whose answer is kept (`escalated` flag) with the first
answer's summary in `escalated_from`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from leadq.backends.base import Backend, WrapperBackend
from leadq.backends.budget import BudgetGuard
from leadq.core.calls import CallSink
from leadq.core.errors import ProviderError
from leadq.core.lead import LeadInput
from leadq.core.result import Flag, PartialResult, QualificationResult


class EscalatingBackend(WrapperBackend):
    """`inner`, and `stronger` for its results with confidence below `below`. With a daily
    `budget`, nothing is escalated once it is used up. An escalation that fails keeps the
    first result, flagged `escalation_failed`."""

    def __init__(
        self, inner: Backend, stronger: Backend, below: float, budget: BudgetGuard | None = None
    ) -> None:
        super().__init__(inner)
        self.stronger = stronger
        self.below = below
        self.budget = budget

    async def _escalated(self, lead: LeadInput, first: QualificationResult) -> QualificationResult:
        if first.confidence >= self.below or (
            self.budget is not None and not self.stronger.is_local and self.budget.exhausted()
        ):
            return first
        try:
            stronger = await self.stronger.qualify(lead)
        except ProviderError:
            first.flags.append(Flag.ESCALATION_FAILED)
            return first
        stronger.escalated_from = first.model_dump(
            include=set(QualificationResult.SUMMARY_FIELDS), mode="json"
        )
        stronger.flags.append(Flag.ESCALATED)
        stronger.latency_ms = round(stronger.latency_ms + first.latency_ms, 2)
        return stronger

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        return await self._escalated(lead, await self.inner.qualify(lead))

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        async for item in self.inner.stream(lead):
            if isinstance(item, QualificationResult):
                item = await self._escalated(lead, item)
            yield item

    def describe(self) -> dict[str, Any]:
        return {
            **self.inner.describe(),
            "escalation": {
                "below": self.below,
                "to": f"{self.stronger.provider}:{self.stronger.model}",
            },
        }

    def report_calls_to(self, sink: CallSink | None) -> None:
        self.inner.report_calls_to(sink)
        self.stronger.report_calls_to(sink)

    async def aclose(self) -> None:
        await self.inner.aclose()
        await self.stronger.aclose()
