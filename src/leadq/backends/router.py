"""Routing between backends: the configured provider first, then `LEADQ_FALLBACKS` in order
when it fails or its circuit breaker is open; escalation of low-confidence results to a
stronger model (`LEADQ_ESCALATE_BELOW`, `LEADQ_ESCALATE_TO`); and the daily budget guard
(`LEADQ_DAILY_BUDGET_USD`), which sends leads to the rules engine once the day's spend is
used up. The result's `provider` and `model` say who answered; flags say why."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from leadq.backends.base import Backend
from leadq.backends.breaker import CircuitBreaker
from leadq.backends.budget import BudgetGuard
from leadq.core.calls import CallAttempt
from leadq.core.errors import (
    LeadqError,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from leadq.core.lead import LeadInput
from leadq.core.result import Flag, PartialResult, QualificationResult
from leadq.observability.metrics import count_budget_switch


@dataclass
class Route:
    backend: Backend
    breaker: CircuitBreaker


def _combined(errors: Sequence[LeadqError]) -> LeadqError:
    """The first provider's error (its type and status), naming what each fallback said."""
    first = errors[0]
    if len(errors) > 1:
        rest = "; ".join(f"{e.provider or '?'}: {e.message}" for e in errors[1:])
        first.message = f"{first.message} (fallbacks failed too: {rest})"
        first.args = (first.message,)
    return first


class RoutedBackend:
    """A `Backend` over several: same seam, so the qualifier and the service do not know."""

    is_local = False

    def __init__(
        self,
        routes: Sequence[Route],
        escalation: Backend | None = None,
        escalate_below: float | None = None,
        budget: BudgetGuard | None = None,
        offline: Backend | None = None,
    ) -> None:
        self.routes = list(routes)
        self.escalation = escalation
        self.escalate_below = escalate_below
        self.budget = budget
        self.offline = offline  # the rules engine, for when the budget is used up
        primary = self.routes[0].backend
        self.provider, self.model = primary.provider, primary.model
        self._sink: Callable[[CallAttempt], None] | None = None

    def __repr__(self) -> str:
        names = ", ".join(f"{r.backend.provider}:{r.backend.model}" for r in self.routes)
        return f"RoutedBackend(routes=[{names}])"

    # The call log's sink, handed to every backend that calls a provider; the budget guard
    # counts each call's cost on the way.
    @property
    def on_call(self) -> Callable[[CallAttempt], None] | None:
        return self._sink

    @on_call.setter
    def on_call(self, sink: Callable[[CallAttempt], None] | None) -> None:
        self._sink = sink
        for backend in self._backends():
            if hasattr(backend, "on_call"):
                backend.on_call = self._record

    def _record(self, attempt: CallAttempt) -> None:
        if self.budget is not None:
            self.budget.add(attempt.cost_usd)
        if self._sink is not None:
            self._sink(attempt)

    def _backends(self) -> list[Backend]:
        extra = [b for b in (self.escalation, self.offline) if b is not None]
        return [r.backend for r in self.routes] + extra

    def breakers(self) -> dict[str, dict[str, object]]:
        return {
            f"{r.backend.provider}:{r.backend.model}": r.breaker.describe() for r in self.routes
        }

    def describe(self) -> dict[str, Any]:
        out = dict(self.routes[0].backend.describe())
        out["breakers"] = self.breakers()
        out["fallbacks"] = [f"{r.backend.provider}:{r.backend.model}" for r in self.routes[1:]]
        if self.escalation is not None:
            out["escalation"] = {
                "below": self.escalate_below,
                "to": f"{self.escalation.provider}:{self.escalation.model}",
            }
        if self.budget is not None:
            out["budget"] = self.budget.describe()
        return out

    def cache_scope(self, lead: LeadInput) -> tuple[str, str, str] | None:
        """The first provider's: a result from a fallback is not reused in its place."""
        scope = getattr(self.routes[0].backend, "cache_scope", None)
        return scope(lead) if scope is not None else None

    # ---- routing ---------------------------------------------------------------------------

    def _over_budget(self, backend: Backend) -> bool:
        return (
            not backend.is_local
            and self.budget is not None
            and self.offline is not None
            and self.budget.exhausted()
        )

    @staticmethod
    def _verdict(breaker: CircuitBreaker, err: BaseException) -> None:
        """Tell the breaker how a call ended. Outages, timeouts and refusals (a wrong key) count;
        a 429 is the limiter's business, an unusable answer is usually about one lead, and a
        failure that is not the provider's (bad input, cancellation) says nothing."""
        if isinstance(err, (ProviderUnavailable, ProviderTimeout, ProviderRejected)) and not (
            isinstance(err, RateLimited)
        ):
            breaker.failed()
        else:
            breaker.released()

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        errors: list[LeadqError] = []
        for i, route in enumerate(self.routes):
            if self._over_budget(route.backend):
                return self._budget_result(await self.offline.qualify(lead))  # type: ignore[union-attr]
            try:
                route.breaker.admit()
            except ProviderError as exc:
                errors.append(exc)
                continue
            try:
                result = await route.backend.qualify(lead)
            except ProviderError as exc:
                self._verdict(route.breaker, exc)
                errors.append(exc)
                continue
            except BaseException as exc:
                self._verdict(route.breaker, exc)
                raise
            route.breaker.succeeded()
            if i > 0:
                result.flags.append(Flag.FALLBACK_USED)
            return await self._escalated(lead, result)
        raise _combined(errors)

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        """Like `qualify`, streaming: a provider that fails before its first partial is
        replaced by the next; after it, the error ends the stream."""
        errors: list[LeadqError] = []
        for i, route in enumerate(self.routes):
            if self._over_budget(route.backend):
                yield self._budget_result(await self.offline.qualify(lead))  # type: ignore[union-attr]
                return
            try:
                route.breaker.admit()
            except ProviderError as exc:
                errors.append(exc)
                continue
            emitted = False
            try:
                async for item in route.backend.stream(lead):
                    if isinstance(item, QualificationResult):
                        route.breaker.succeeded()
                        if i > 0:
                            item.flags.append(Flag.FALLBACK_USED)
                        item = await self._escalated(lead, item)
                    emitted = True
                    yield item
                return
            except ProviderError as exc:
                self._verdict(route.breaker, exc)
                if emitted:
                    raise
                errors.append(exc)
            except BaseException as exc:
                self._verdict(route.breaker, exc)
                raise
        raise _combined(errors)

    def _budget_result(self, result: QualificationResult) -> QualificationResult:
        count_budget_switch()
        result.flags.append(Flag.BUDGET_EXCEEDED)
        return result

    async def _escalated(self, lead: LeadInput, first: QualificationResult) -> QualificationResult:
        """`first`, or the stronger model's answer when `first` is not confident enough; the
        first answer is kept in `escalated_from`. An escalation that fails keeps `first`."""
        if (
            self.escalation is None
            or self.escalate_below is None
            or first.confidence >= self.escalate_below
            or self._over_budget(self.escalation)
        ):
            return first
        try:
            stronger = await self.escalation.qualify(lead)
        except ProviderError:
            first.flags.append(Flag.ESCALATION_FAILED)
            return first
        stronger.escalated_from = first.model_dump(
            include={
                "provider",
                "model",
                "prompt_version",
                "overall_score",
                "fit_score",
                "budget_score",
                "urgency_score",
                "authority_score",
                "confidence",
                "recommended_action",
                "reasoning",
                "latency_ms",
                "usage",
                "cost_usd",
                "flags",
            },
            mode="json",
        )
        stronger.flags.append(Flag.ESCALATED)
        stronger.latency_ms = round(stronger.latency_ms + first.latency_ms, 2)
        return stronger

    async def aclose(self) -> None:
        for backend in self._backends():
            await backend.aclose()
