"""`ConversionBackend`: the policy that adds the active conversion model's probability, its
version and its factors to every result (`leadq train`, `leadq model activate`), and with
LEADQ_ACTION_BASIS=probability moves the action to the model's probability bands (a stream's
partial results then carry no action until the result). With no active model, results pass
through unchanged. Local when what it wraps is local (the rules
engine), so batches still run without a task per lead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from leadq.backends.base import Backend, WrapperBackend
from leadq.core.lead import LeadInput
from leadq.core.result import PartialResult, QualificationResult

if TYPE_CHECKING:
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
        self.models.refresh_soon()  # local batches run on the event loop: never wait here
        return self.models.score(lead, self.inner.qualify_now(lead))

    async def _look_up(self) -> None:
        """The active model, looked up again off the event loop when it is due (a slow
        database must not stall every lead in flight)."""
        if self.models.due():  # the first lookup too
            await asyncio.to_thread(self.models.current)

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        result = await self.inner.qualify(lead)
        await self._look_up()
        return self.models.score(lead, result)

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        await self._look_up()  # the model in hand decides whether partials carry an action
        async for item in self.inner.stream(lead):
            if isinstance(item, QualificationResult):
                await self._look_up()
                item = self.models.score(lead, item)
            elif self.models.follows_probability and "recommended_action" in item.fields:
                # The action waits for the probability: a partial's would be the score's band.
                kept = {k: v for k, v in item.fields.items() if k != "recommended_action"}
                item = PartialResult(fields=kept)
            yield item

    async def rescore(self, lead: LeadInput, result: QualificationResult) -> QualificationResult:
        """A cache hit scored by the model active now: the one it was stored with may since
        have been replaced or deactivated (then its probability is not shown)."""
        result = await self.inner.rescore(lead, result)
        await self._look_up()
        if self.models.active is None:
            result.conversion_probability = result.model_version = result.factors = None
            return result
        return self.models.score(lead, result)

    async def aclose(self) -> None:
        self.models.close()
        await self.inner.aclose()
