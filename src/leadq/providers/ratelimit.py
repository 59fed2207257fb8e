"""A client-side rate limiter shared by every caller in the process, per provider endpoint.

It keeps requests and tokens within the provider's limits: the configured ones
(`LEADQ_RPM`, `LEADQ_TPM`) or, when none are, the ones it learns from the `x-ratelimit-*`
headers of each answer (Cerebras sends a limit, a remaining count and a reset time for each
window).
It paces instead of bursting into 429s, and a 429 holds every caller until the reset the
headers give, so one limit hit does not become a storm of retries.

Pacing is GCRA (a virtual schedule): each request is given a send time no earlier than the
previous one plus `window / limit`, and each token likewise, so a steady run uses about 98%
of the limit without ever exceeding it in any window. Tokens are counted as the provider
counts them: prompt tokens plus `max_completion_tokens`.

Each answer's `remaining` and `reset` also hold the schedule back when fewer requests remain
in the current window than the pace would send before it resets (a batch that opened with a
burst, before any limit was known, or another client on the same key).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

UNIT_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
PACED_UP_TO = 3600.0  # windows up to an hour are paced; a daily quota only gates at zero
HEADROOM = 0.98  # pace at this share of a learned limit: a margin for clock skew
_HEADER = re.compile(
    r"x-ratelimit-(limit|remaining|reset)-(requests|tokens)(?:-(second|minute|hour|day))?$"
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset(value: str | None) -> float | None:
    """Seconds from a reset header: Cerebras' `33.5`, or OpenAI's `6m0s` / `20ms` / `1s`."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


@dataclass(frozen=True)
class Window:
    """One limit as the provider reported it, e.g. requests per minute."""

    kind: str  # "requests" or "tokens"
    seconds: float  # the window's length
    limit: float | None
    remaining: float | None
    reset: float | None  # seconds until the window resets


def read_windows(headers: Mapping[str, str]) -> list[Window]:
    """Every `x-ratelimit-*` window in `headers`, whatever the vendor's naming."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for name, value in headers.items():
        name = name.lower()
        if name.startswith("x-ratelimit-") and (match := _HEADER.match(name)):
            field, kind, unit = match.groups()
            found.setdefault((kind, unit or "minute"), {})[field] = value
    out = []
    for (kind, unit), fields in found.items():
        out.append(
            Window(
                kind,
                UNIT_SECONDS[unit],
                _number(fields.get("limit")),
                _number(fields.get("remaining")),
                parse_reset(fields.get("reset")),
            )
        )
    return out


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until the exhausted limit resets: the longest reset among windows with nothing
    remaining, else `retry-after`, else the soonest reset given."""
    windows = read_windows(headers)
    exhausted = [w.reset for w in windows if w.remaining == 0 and w.reset is not None]
    if exhausted:
        return max(exhausted)
    after = headers.get("retry-after")
    if after is not None and (seconds := parse_reset(after)) is not None:
        return seconds
    resets = [w.reset for w in windows if w.reset is not None]
    return min(resets) if resets else None


class _Pace:
    """GCRA for one resource: `interval` seconds per unit, `burst` seconds of tolerance."""

    def __init__(self) -> None:
        self.interval = 0.0  # 0 = no limit known
        self.burst = 0.0
        self.tat = 0.0  # theoretical arrival time of the next unit

    def set_rate(self, per_second: float, burst_units: float) -> None:
        self.interval = 1.0 / per_second
        self.burst = self.interval * burst_units

    def earliest(self, now: float, units: float) -> float:
        if self.interval <= 0:
            return now
        # A request larger than the burst still goes, once everything before it is paid.
        return max(now, self.tat + units * self.interval - max(self.burst, units * self.interval))

    def take(self, at: float, units: float) -> None:
        if self.interval > 0:
            self.tat = max(self.tat, at) + units * self.interval


class RateLimiter:
    """Paces calls to one provider endpoint; see the module docstring."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # callers may sit in several event loops
        self._requests, self._tokens = _Pace(), _Pace()
        self.configured = rpm is not None or tpm is not None
        if rpm:
            self._requests.set_rate(rpm / 60.0, 1)
        if tpm:
            self._tokens.set_rate(tpm / 60.0, tpm / 60.0)  # a second's worth of tokens
        self.learned: dict[str, float] = {}  # e.g. {"requests/60s": 600}
        self.blocked_until = 0.0
        self.waits = 0
        self.waited = 0.0
        self.limited = 0  # 429s seen

    def reserve(self, tokens: int) -> float:
        """Claim the next slot for a request costing `tokens`; seconds to wait before it."""
        with self._lock:
            now = self._clock()
            at = max(
                now,
                self.blocked_until,
                self._requests.earliest(now, 1),
                self._tokens.earliest(now, tokens),
            )
            self._requests.take(at, 1)
            self._tokens.take(at, tokens)
            delay = at - now
            if delay > 0:
                self.waits += 1
                self.waited += delay
            return delay

    async def acquire(self, tokens: int) -> float:
        """Wait for a slot; returns the seconds waited (0 when under the limit)."""
        delay = self.reserve(tokens)
        if delay > 0:
            await asyncio.sleep(delay)
        return delay

    def observe(self, headers: Mapping[str, str], status: int) -> None:
        """Learn from an answer's headers; a 429 holds every caller until its reset."""
        if self.configured and status != 429:
            return  # LEADQ_RPM/TPM set the pace; only a 429 can hold it back
        windows = read_windows(headers)
        with self._lock:
            now = self._clock()
            if status == 429:
                self.limited += 1
                wait = retry_after(headers)
                self.blocked_until = max(self.blocked_until, now + (wait if wait else 1.0))
            if self.configured:
                return
            for w in windows:
                if w.limit and w.limit > 0 and w.seconds <= PACED_UP_TO:
                    self._learn(w)
                    self._hold_for_remaining(w, now)
                if w.remaining is not None and w.remaining <= 0 and w.reset:
                    self.blocked_until = max(self.blocked_until, now + w.reset)

    def _learn(self, w: Window) -> None:
        if w.limit is None:  # nothing to learn from a window without its limit
            return
        name = f"{w.kind}/{w.seconds:g}s"
        if self.learned.get(name) == w.limit:
            return
        self.learned[name] = w.limit
        # The tightest of the known windows sets the pace for each resource.
        pace = self._requests if w.kind == "requests" else self._tokens
        rates = [
            limit * HEADROOM / float(key.split("/")[1][:-1])
            for key, limit in self.learned.items()
            if key.startswith(w.kind)
        ]
        burst = 1.0 if w.kind == "requests" else min(rates) * 1.0
        pace.set_rate(min(rates), burst)

    def _hold_for_remaining(self, w: Window, now: float) -> None:
        """Delay the schedule so that at most `remaining` more go out before `reset`."""
        pace = self._requests if w.kind == "requests" else self._tokens
        if w.remaining is None or not w.reset or pace.interval <= 0:
            return
        pace.tat = max(pace.tat, now + w.reset - w.remaining * pace.interval)

    def describe(self) -> dict[str, object]:
        return {
            "configured": self.configured,
            "learned": dict(self.learned),
            "waits": self.waits,
            "waited_s": round(self.waited, 3),
            "rate_limited": self.limited,
        }


_shared: dict[tuple[str, str], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(endpoint: str, key_id: str, rpm: float | None, tpm: float | None) -> RateLimiter:
    """The process's limiter for one endpoint and key: every backend built for them shares
    it (limits are per key at the provider, not per client object)."""
    with _shared_lock:
        limiter = _shared.get((endpoint, key_id))
        if limiter is None:
            limiter = _shared[(endpoint, key_id)] = RateLimiter(rpm, tpm)
        return limiter


def clear_shared_limiters() -> None:
    """Forget every learned limit (between tests, or after the provider changed its plan)."""
    with _shared_lock:
        _shared.clear()
