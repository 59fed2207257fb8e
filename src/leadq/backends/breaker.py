"""A circuit breaker per provider: after `threshold` failed leads in a row it opens and the
provider is not called (a fallback answers, or the lead fails at once with a clear error);
after `cooldown` seconds one probe lead is let through (half-open): its success closes the
breaker, its failure opens it again. `BreakerBackend` is the policy that puts one in front of
a backend."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Any

from leadq.backends.base import Backend, WrapperBackend
from leadq.core.errors import ProviderRejected, ProviderTimeout, ProviderUnavailable, RateLimited
from leadq.core.lead import LeadInput
from leadq.core.result import PartialResult, QualificationResult


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


class CircuitBreaker:
    """Thread-safe: the API's event loop and the sync API's thread may share a backend."""

    def __init__(
        self,
        name: str,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened = 0  # times it opened

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._current()

    def _current(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(self.name, state)

    def admit(self) -> None:
        """Let a call through, or raise `ProviderUnavailable` while open (and while the
        half-open probe is out)."""
        with self._lock:
            state = self._current()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                return
            wait = max(0.0, self.cooldown - (self._clock() - self._opened_at))
            raise ProviderUnavailable(
                f"{self.name}: circuit open after {self.threshold} failures in a row; "
                f"next try in {wait:.0f}s",
                provider=self.name,
            )

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._probing = 0, False
            self._set(BreakerState.CLOSED)

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            probe_failed = self._probing
            self._probing = False
            if probe_failed or self._failures >= self.threshold:
                if self._state is not BreakerState.OPEN:
                    self.opened += 1
                self._opened_at = self._clock()
                self._set(BreakerState.OPEN)

    def released(self) -> None:
        """The admitted call ended with neither verdict (cancelled, or the lead's own fault)."""
        with self._lock:
            self._probing = False

    def describe(self) -> dict[str, object]:
        with self._lock:
            return {
                "state": self._current().value,
                "failures_in_a_row": self._failures,
                "opened": self.opened,
            }


class BreakerBackend(WrapperBackend):
    """`inner` behind a circuit breaker: while it is open, `qualify` raises
    `ProviderUnavailable` at once instead of calling the provider."""

    def __init__(self, inner: Backend, breaker: CircuitBreaker) -> None:
        super().__init__(inner)
        self.breaker = breaker

    def _verdict(self, err: BaseException) -> None:
        """Tell the breaker how a call ended. Outages, timeouts and refusals (a wrong key)
        count; a 429 is the limiter's business, an unusable answer is usually about one lead,
        and a failure that is not the provider's (bad input, cancellation) says nothing."""
        if isinstance(err, ProviderUnavailable | ProviderTimeout | ProviderRejected) and not (
            isinstance(err, RateLimited)
        ):
            self.breaker.failed()
        else:
            self.breaker.released()

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        self.breaker.admit()
        try:
            result = await self.inner.qualify(lead)
        except BaseException as exc:
            self._verdict(exc)
            raise
        self.breaker.succeeded()
        return result

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        self.breaker.admit()
        try:
            async for item in self.inner.stream(lead):
                if isinstance(item, QualificationResult):
                    self.breaker.succeeded()
                yield item
        except BaseException as exc:
            self._verdict(exc)
            raise

    def describe(self) -> dict[str, Any]:
        out = dict(self.inner.describe())
        name = f"{self.inner.provider}:{self.inner.model}"
        out["breakers"] = {**out.get("breakers", {}), name: self.breaker.describe()}
        return out
