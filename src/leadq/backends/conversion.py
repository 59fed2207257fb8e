"""`ConversionBackend`: the policy that adds the active conversion model's probability, its
version and its factors to every result (`leadq train`, `leadq model activate`). With no
active model, results pass through unchanged. Local when what it wraps is local (the rules
engine), so batches still run without a task per lead."""

from __future__ import annotations

from collections.abc import AsyncIterator

from leadq.backends.base import Backend, WrapperBackend
from leadq.core.lead import LeadInput
from leadq.core.result import PartialResult, QualificationResult
from leadq.learning.active import ActiveModel


class ConversionBackend(WrapperBackend):
    """Scores each result of `inner` with `models`' active model."""

    def __init__(self, inner: Backend, models: ActiveModel) -> None:
        super().__init__(inner)
        self.models = models

    @property
    def is_local(self) -> bool:  # type: ignore[override]
        return self.inner.is_local

    def qualify_now(self, lead: LeadInput) -> QualificationResult:
        return self.models.score(lead, self.inner.qualify_now(lead))

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        return self.models.score(lead, await self.inner.qualify(lead))

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        async for item in self.inner.stream(lead):
            yield self.models.score(lead, item) if isinstance(item, QualificationResult) else item

    async def aclose(self) -> None:
        self.models.close()
        await self.inner.aclose()
