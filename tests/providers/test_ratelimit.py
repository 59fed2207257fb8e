"""The rate limiter's pacing and learning, on a fake clock (pure logic; the HTTP path is in
test_resilience_http.py)."""

from __future__ import annotations

import itertools

import pytest

from leadq.providers.ratelimit import RateLimiter, parse_reset, read_windows, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_times(limiter: RateLimiter, clock: Clock, n: int, tokens: int = 1) -> list[float]:
    """When each of `n` requests, all asked for at once, may go."""
    return [clock.now + limiter.reserve(tokens) for _ in range(n)]


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("33.5", 33.5), ("0", 0.0), ("6m0s", 360.0), ("1s", 1.0), ("20ms", 0.02), ("1h2m", 3720.0)],
)
def test_reset_values_in_both_vendor_formats(text: str, seconds: float) -> None:
    assert parse_reset(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["soon", "", "5 minutes", "-"])
def test_unreadable_reset_is_none(text: str) -> None:
    assert parse_reset(text) is None


def test_windows_read_from_cerebras_and_openai_names() -> None:
    cerebras = {
        "x-ratelimit-limit-requests-day": "14400",
        "x-ratelimit-remaining-requests-day": "14399",
        "x-ratelimit-reset-requests-day": "33011.4",
        "x-ratelimit-limit-tokens-minute": "60000",
        "x-ratelimit-remaining-tokens-minute": "0",
        "x-ratelimit-reset-tokens-minute": "12.5",
    }
    got = {(w.kind, w.seconds): w for w in read_windows(cerebras)}
    assert got[("requests", 86400.0)].limit == 14400
    assert got[("tokens", 60.0)].remaining == 0
    assert retry_after(cerebras) == 12.5  # the exhausted window's reset, not the day's
    openai = {"x-ratelimit-limit-requests": "500", "x-ratelimit-reset-requests": "120ms"}
    (w,) = read_windows(openai)
    assert (w.kind, w.seconds, w.limit, w.reset) == ("requests", 60.0, 500, 0.12)


def test_configured_rpm_spaces_requests_evenly() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=600, clock=clock)
    times = send_times(limiter, clock, 50)
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert gaps == {0.1}
    assert times[0] == clock.now  # the first goes at once


def test_learned_limit_never_exceeded_in_any_window_and_nearly_used() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert limiter.reserve(1) == 0  # nothing known: no wait
    limiter.observe({"x-ratelimit-limit-requests-minute": "600"}, 200)
    times = send_times(limiter, clock, 1800)  # three minutes' worth
    assert most_in_any_window(times, 60.0) <= 600
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.95 * 10 <= rate <= 10


def test_tokens_are_paced_by_their_own_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(tpm=60_000, clock=clock)  # 1,000 tokens a second
    times = send_times(limiter, clock, 10, tokens=2_000)
    assert times[-1] - times[0] == pytest.approx(18.0)  # 9 gaps of 2 s each


def test_a_429_holds_every_caller_until_its_reset() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.observe(
        {"x-ratelimit-remaining-requests-minute": "0", "x-ratelimit-reset-requests-minute": "7"},
        429,
    )
    assert limiter.limited == 1
    assert [limiter.reserve(1) for _ in range(3)] == [7.0, 7.0, 7.0]
    clock.now += 7
    assert limiter.reserve(1) == 0


def test_an_exhausted_daily_quota_gates_but_is_not_paced() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    day = {
        "x-ratelimit-limit-requests-day": "1000",
        "x-ratelimit-remaining-requests-day": "500",
        "x-ratelimit-reset-requests-day": "3600",
    }
    limiter.observe(day, 200)
    assert send_times(limiter, clock, 5) == [clock.now] * 5  # 1000/day is not 0.7/min
    limiter.observe({**day, "x-ratelimit-remaining-requests-day": "0"}, 200)
    assert limiter.reserve(1) == pytest.approx(3600)


def test_configured_limits_are_not_overridden_by_headers() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=60, clock=clock)
    limiter.observe({"x-ratelimit-limit-requests-minute": "100000"}, 200)
    assert send_times(limiter, clock, 3) == [clock.now, clock.now + 1, clock.now + 2]


def test_few_remaining_in_the_window_hold_the_schedule_until_its_reset() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.observe(
        {
            "x-ratelimit-limit-requests-minute": "600",
            "x-ratelimit-remaining-requests-minute": "5",
            "x-ratelimit-reset-requests-minute": "10",
        },
        200,
    )
    times = send_times(limiter, clock, 6)
    before_reset = [t for t in times if t < clock.now + 10]
    assert len(before_reset) <= 5 + 1  # the pace's own burst of one
    assert times[-1] >= clock.now + 10 - 1e-9
