"""`Backend`: the one contract for whatever answers for a lead (an LLM, the rules engine, or a
policy wrapped around either), and `WrapperBackend`, the base of every policy.

Every member has a documented default, so callers never probe a backend for what it has:
a backend that makes no provider calls ignores a call sink, one without a budget ignores
today's spend, one whose results are cheaper than a lookup has no cache scope."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from leadq.core.calls import CallSink
from leadq.core.identity import CacheScope
from leadq.core.lead import LeadInput
from leadq.core.result import PartialResult, QualificationResult


class Backend(ABC):
    """Qualifies one lead at a time. Implemented by `LLMBackend`, `RulesBackend` and the
    policies (`BreakerBackend`, `FallbackBackend`, `EscalatingBackend`, `RoutingBackend`,
    `BudgetBackend`)."""

    provider: str
    model: str
    #: True when the backend answers in-process with no I/O: `qualify_now` works, and batches
    #: run it directly instead of scheduling a task per lead.
    is_local: bool = False

    @abstractmethod
    async def qualify(self, lead: LeadInput) -> QualificationResult:
        """One validated result, or a `LeadqError` saying what failed."""

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        """Partial results as they become known, the validated result last. Default: the
        result alone."""
        yield await self.qualify(lead)

    def qualify_now(self, lead: LeadInput) -> QualificationResult:
        """`qualify` without an event loop, for a local backend (`is_local`)."""
        raise TypeError(f"{type(self).__name__} is not local: await qualify() instead")

    def describe(self) -> dict[str, Any]:
        """What health shows: provider, model, configured, and the policies' state."""
        return {"provider": self.provider, "model": self.model, "configured": True}

    def cache_scope(self, lead: LeadInput) -> CacheScope | None:
        """What a cached result for `lead` must match besides its input (provider, model,
        prompt version); None when results are not cached. Default: not cached."""
        return None

    def report_calls_to(self, sink: CallSink | None) -> None:  # noqa: B027 - no-op default
        """Where each provider call attempt is reported (the call log). Default: nowhere to
        report, as the backend calls no provider."""

    def seed_spend(self, spent_today_usd: float) -> None:  # noqa: B027 - no-op default
        """Today's spend so far, from the stored call log. Default: no budget to seed."""

    def unwrap(self) -> Backend:
        """The backend that answers first, under any policies. Default: this one."""
        return self

    async def rescore(self, lead: LeadInput, result: QualificationResult) -> QualificationResult:
        """A stored result (a cache hit) with what the policies add to a result now, such as
        the active conversion model's probability. Default: as it is."""
        return result

    async def aclose(self) -> None:  # noqa: B027 - no-op default
        """Release connections. Default: nothing to release."""


class WrapperBackend(Backend):
    """A policy around one backend: everything is passed through unless overridden. Policies
    run on the async path, so a wrapper is never local, even around the rules engine."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property
    def provider(self) -> str:  # type: ignore[override]
        return self.inner.provider

    @property
    def model(self) -> str:  # type: ignore[override]
        return self.inner.model

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        return await self.inner.qualify(lead)

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        async for item in self.inner.stream(lead):
            yield item

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def cache_scope(self, lead: LeadInput) -> CacheScope | None:
        return self.inner.cache_scope(lead)

    def report_calls_to(self, sink: CallSink | None) -> None:
        self.inner.report_calls_to(sink)

    def seed_spend(self, spent_today_usd: float) -> None:
        self.inner.seed_spend(spent_today_usd)

    def unwrap(self) -> Backend:
        return self.inner.unwrap()

    async def rescore(self, lead: LeadInput, result: QualificationResult) -> QualificationResult:
        return await self.inner.rescore(lead, result)

    async def aclose(self) -> None:
        await self.inner.aclose()
