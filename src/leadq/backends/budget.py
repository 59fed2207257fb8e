"""`LEADQ_DAILY_BUDGET_USD`: today's LLM spend (UTC day), kept in process from the call log's
costs and seeded from the stored call log at start; `BudgetBackend` sends leads to the rules
engine once the day's budget is used up, with the `budget_exceeded` flag."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any

from leadq.backends.base import Backend, WrapperBackend
from leadq.core.calls import CallAttempt, CallSink
from leadq.core.lead import LeadInput
from leadq.core.result import Flag, PartialResult, QualificationResult
from leadq.observability.metrics import count_budget_switch

log = logging.getLogger("leadq.budget")


def utc_today() -> date:
    return datetime.now(UTC).date()


def day_start(day: date) -> datetime:
    """Midnight UTC of `day` (what `Store.spend_since` is asked for)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class BudgetGuard:
    """Counts spend per UTC day; `exhausted` once it reaches `limit_usd`."""

    def __init__(self, limit_usd: float, today: Callable[[], date] = utc_today) -> None:
        self.limit = limit_usd
        self._today = today
        self._lock = threading.Lock()
        self._day = today()
        self._spent = 0.0
        self._announced = False

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day, self._spent, self._announced = day, 0.0, False

    def seed(self, spent_today: float) -> None:
        """Start from what the stored call log says was spent today."""
        with self._lock:
            self._roll()
            self._spent = max(self._spent, spent_today)

    def add(self, cost_usd: float | None) -> None:
        if not cost_usd:
            return
        with self._lock:
            self._roll()
            self._spent += cost_usd

    @property
    def spent(self) -> float:
        with self._lock:
            self._roll()
            return self._spent

    def exhausted(self) -> bool:
        """Whether today's spend reached the limit (logged once a day when it first does)."""
        with self._lock:
            self._roll()
            over = self._spent >= self.limit
            if over and not self._announced:
                self._announced = True
                log.warning(
                    "daily LLM budget reached: leads go to the rules engine until midnight UTC",
                    extra={
                        "event": "budget.exhausted",
                        "spent_usd": round(self._spent, 6),
                        "limit_usd": self.limit,
                    },
                )
            return over

    def describe(self) -> dict[str, object]:
        with self._lock:
            self._roll()
            return {
                "limit_usd": self.limit,
                "spent_today_usd": round(self._spent, 6),
                "exhausted": self._spent >= self.limit,
            }


class BudgetBackend(WrapperBackend):
    """`inner` while today's spend is under the budget; `offline` (the rules engine) after,
    its results flagged `budget_exceeded`. Every call `inner` reports is counted."""

    def __init__(self, inner: Backend, guard: BudgetGuard, offline: Backend) -> None:
        super().__init__(inner)
        self.guard = guard
        self.offline = offline
        self._sink: CallSink | None = None
        inner.report_calls_to(self._count)

    def _count(self, attempt: CallAttempt) -> None:
        self.guard.add(attempt.cost_usd)
        if self._sink is not None:
            self._sink(attempt)

    def report_calls_to(self, sink: CallSink | None) -> None:
        self._sink = sink

    def seed_spend(self, spent_today_usd: float) -> None:
        self.guard.seed(spent_today_usd)

    def _switched(self) -> bool:
        return not self.inner.unwrap().is_local and self.guard.exhausted()

    async def _offline(self, lead: LeadInput) -> QualificationResult:
        result = await self.offline.qualify(lead)
        count_budget_switch()
        result.flags.append(Flag.BUDGET_EXCEEDED)
        return result

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        if self._switched():
            return await self._offline(lead)
        return await self.inner.qualify(lead)

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        if self._switched():
            yield await self._offline(lead)
            return
        async for item in self.inner.stream(lead):
            yield item

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "budget": self.guard.describe()}

    async def aclose(self) -> None:
        await self.inner.aclose()
        await self.offline.aclose()
