"""`LEADQ_ROUTE_ABOVE` / `LEADQ_ROUTE_TO`: before any call, the rules engine rates each lead
(its overall score, 0 to 1: in process, pure, no I/O); a lead rated at or above the threshold
takes the routed lane (the model for valuable leads), flagged `routed`; the rest take the
default lane (`LEADQ_PROVIDER`). The result's `provider` and `model` say who answered.

How it composes with the other policies (`factory.py` builds it so):
- Breakers: every model has its own; the routed lane falls back through the default lane's
  models behind the same breakers.
- Fallbacks: the default lane is `LEADQ_PROVIDER`, then `LEADQ_FALLBACKS`; the routed lane is
  the routed model, then that same chain, so a routed lead still gets an answer when the routed
  model fails or its breaker is open (flagged `fallback_used` as well).
- Escalation wraps the default lane only: a routed lead was given the stronger model already.
- Budget: the daily budget guard wraps the router. Once the budget is used up nothing is routed
  (as nothing is escalated): the lead takes the default lane, which the guard answers with the
  rules engine when that lane is an LLM.
- Cache: a lead's cache scope is its lane's, so a cached result is one from the model its lane
  asks first.
Each lane's leads, cost and latency are counted per route ("routed" or "default") in the
metrics; `/api/stats` reads the same split from the stored results' `routed` flag."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from leadq.backends.base import Backend, WrapperBackend
from leadq.backends.budget import BudgetGuard
from leadq.core.calls import CallSink
from leadq.core.identity import CacheScope
from leadq.core.lead import LeadInput
from leadq.core.result import Flag, PartialResult, QualificationResult
from leadq.core.rules.engine import RulesEngine
from leadq.core.scoring import overall
from leadq.observability.metrics import observe_route, observe_route_failure

Route = Literal["routed", "default"]
Rating = Callable[[LeadInput], float]


def rules_rating(engine: RulesEngine) -> Rating:
    """The rules engine's overall score for a lead (0 to 1), as its own result would give it."""

    def rate(lead: LeadInput) -> float:
        return overall(engine.answer(lead), engine.weights)

    return rate


class RoutingBackend(WrapperBackend):
    """`inner` (the default lane) for leads `rate` puts below `above`; `routed` for the rest.
    With a daily `budget`, nothing is routed once it is used up."""

    def __init__(
        self,
        inner: Backend,
        routed: Backend,
        above: float,
        rate: Rating,
        budget: BudgetGuard | None = None,
    ) -> None:
        super().__init__(inner)
        self.routed = routed
        self.above = above
        self.rate = rate
        self.budget = budget

    def route(self, lead: LeadInput) -> Route:
        """The lane `lead` takes: "routed" when rated at or above the threshold (and the
        budget, if any, is not used up), else "default"."""
        if self.rate(lead) < self.above:
            return "default"
        if self.budget is not None and not self.routed.is_local and self.budget.exhausted():
            return "default"
        return "routed"

    def _lane(self, route: Route) -> Backend:
        return self.routed if route == "routed" else self.inner

    @staticmethod
    def _done(route: Route, result: QualificationResult, started: float) -> None:
        if route == "routed":
            result.flags.append(Flag.ROUTED)
        observe_route(route, result, time.perf_counter() - started)

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        route, started = self.route(lead), time.perf_counter()
        try:
            result = await self._lane(route).qualify(lead)
        except Exception:
            observe_route_failure(route)
            raise
        self._done(route, result, started)
        return result

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        route, started = self.route(lead), time.perf_counter()
        try:
            async for item in self._lane(route).stream(lead):
                if isinstance(item, QualificationResult):
                    self._done(route, item, started)
                yield item
        except Exception:
            observe_route_failure(route)
            raise

    def describe(self) -> dict[str, Any]:
        default, routed = self.inner.describe(), self.routed.describe()
        out = dict(default)
        out["breakers"] = {**routed.get("breakers", {}), **default.get("breakers", {})}
        out["routing"] = {
            "above": self.above,
            "to": f"{self.routed.provider}:{self.routed.model}",
        }
        return out

    def cache_scope(self, lead: LeadInput) -> CacheScope | None:
        return self._lane(self.route(lead)).cache_scope(lead)

    def report_calls_to(self, sink: CallSink | None) -> None:
        self.inner.report_calls_to(sink)
        self.routed.report_calls_to(sink)

    def seed_spend(self, spent_today_usd: float) -> None:
        self.inner.seed_spend(spent_today_usd)
        self.routed.seed_spend(spent_today_usd)

    async def aclose(self) -> None:
        await self.inner.aclose()
        await self.routed.aclose()
