"""`LEADQ_FALLBACKS`: the configured provider first, then each fallback in order when the one
before fails (or its breaker is open). The result's `provider` and `model` say who answered,
with the `fallback_used` flag."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from leadq.backends.base import Backend
from leadq.core.calls import CallSink
from leadq.core.errors import LeadqError, ProviderError
from leadq.core.identity import CacheScope
from leadq.core.lead import LeadInput
from leadq.core.result import Flag, PartialResult, QualificationResult


def _combined(errors: Sequence[LeadqError]) -> LeadqError:
    """The first provider's error (its type and status), naming what each fallback said."""
    first = errors[0]
    if len(errors) > 1:
        rest = "; ".join(f"{e.provider or '?'}: {e.message}" for e in errors[1:])
        first.message = f"{first.message} (fallbacks failed too: {rest})"
        first.args = (first.message,)
    return first


class FallbackBackend(Backend):
    """Tries `routes` in order; a provider failure moves on to the next one."""

    def __init__(self, routes: Sequence[Backend]) -> None:
        if not routes:
            raise ValueError("FallbackBackend needs at least one route")
        self.routes = list(routes)
        self.provider, self.model = self.routes[0].provider, self.routes[0].model

    def __repr__(self) -> str:
        return f"FallbackBackend({self.routes!r})"

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        errors: list[LeadqError] = []
        for i, route in enumerate(self.routes):
            try:
                result = await route.qualify(lead)
            except ProviderError as exc:
                errors.append(exc)
                continue
            if i > 0:
                result.flags.append(Flag.FALLBACK_USED)
            return result
        raise _combined(errors)

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        """A provider that fails before its first partial is replaced by the next; after it,
        the error ends the stream."""
        errors: list[LeadqError] = []
        for i, route in enumerate(self.routes):
            emitted = False
            try:
                async for item in route.stream(lead):
                    if i > 0 and isinstance(item, QualificationResult):
                        item.flags.append(Flag.FALLBACK_USED)
                    emitted = True
                    yield item
                return
            except ProviderError as exc:
                if emitted:
                    raise
                errors.append(exc)
        raise _combined(errors)

    def describe(self) -> dict[str, Any]:
        described = [route.describe() for route in self.routes]
        out = dict(described[0])
        out["breakers"] = {k: v for d in described for k, v in d.get("breakers", {}).items()}
        out["fallbacks"] = [f"{r.provider}:{r.model}" for r in self.routes[1:]]
        return out

    def cache_scope(self, lead: LeadInput) -> CacheScope | None:
        """The first provider's: a result from a fallback is not reused in its place."""
        return self.routes[0].cache_scope(lead)

    def report_calls_to(self, sink: CallSink | None) -> None:
        for route in self.routes:
            route.report_calls_to(sink)

    def seed_spend(self, spent_today_usd: float) -> None:
        for route in self.routes:
            route.seed_spend(spent_today_usd)

    def unwrap(self) -> Backend:
        return self.routes[0].unwrap()

    async def aclose(self) -> None:
        for route in self.routes:
            await route.aclose()
