"""`LEADQ_DAILY_BUDGET_USD`: today's LLM spend (UTC day), kept in process from the call log's
costs and seeded from the stored call log at start, so that the router can send leads to the
rules engine once the day's budget is used up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

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
