"""The rate limiter's bucket model, on a fake clock (pure logic; the HTTP path is in
tests/backends/test_policies.py and test_ratelimit_http.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest

from leadq.providers.catalog import providers
from leadq.providers.ratelimit import (
    PROBE,
    BucketModel,
    HeaderScheme,
    RateLimiter,
    Ticket,
    parse_reset,
    read_windows,
    retry_after,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_times(limiter: RateLimiter, clock: Clock, n: int, tokens: int = 1) -> list[float]:
    """When each of `n` requests, all asked for at once, goes: each waits as the limiter
    says, on the fake clock, with no answer coming back meanwhile."""
    times = []
    for _ in range(n):
        while True:
            wait, ticket = limiter.take(tokens)
            if ticket is not None:
                times.append(clock.now)
                break
            clock.now += wait
    return times


def answer(
    limiter: RateLimiter, ticket: Ticket | None, limit: int, remaining: int, reset: float
) -> None:
    limiter.observe(
        {
            "x-ratelimit-limit-requests-minute": str(limit),
            "x-ratelimit-remaining-requests-minute": str(remaining),
            "x-ratelimit-reset-requests-minute": str(reset),
        },
        200,
        ticket,
    )


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
    start = clock.now
    limiter = RateLimiter(rpm=600, clock=clock)
    times = send_times(limiter, clock, 50)
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert gaps == {0.1}
    assert times[0] == start  # the first goes at once


def test_configured_tokens_are_paced_by_their_own_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(tpm=60_000, clock=clock)  # 1,000 tokens a second
    times = send_times(limiter, clock, 10, tokens=2_000)
    assert times[-1] - times[0] == pytest.approx(18.0)  # 9 gaps of 2 s each


def test_configured_limits_are_not_overridden_by_headers() -> None:
    clock = Clock()
    start = clock.now
    limiter = RateLimiter(rpm=60, clock=clock)
    answer(limiter, None, 100_000, 100_000, 1)
    assert send_times(limiter, clock, 3) == [start, start + 1, start + 2]


def test_before_the_first_answer_only_a_probe_goes_out() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    first = [limiter.take(1) for _ in range(PROBE + 3)]
    assert all(ticket is not None and wait == 0 for wait, ticket in first[:PROBE])
    assert all(ticket is None and wait > 0 for wait, ticket in first[PROBE:])
    limiter.observe({}, 200)  # an answer with no limits in it: nothing to keep to
    assert send_times(limiter, clock, 100) == [clock.now] * 100


def test_an_idle_client_spends_what_remains_at_once() -> None:
    clock = Clock()
    start = clock.now
    limiter = RateLimiter(clock=clock)
    _, ticket = limiter.take(1)
    answer(limiter, ticket, 120, 119, 0.5)
    times = send_times(limiter, clock, 119 + 5)
    assert times[:119] == [start] * 119  # what the provider said is left goes now
    assert times[119] >= start + 0.5  # then nothing before the reset


def test_remaining_corrects_the_model_less_what_was_sent_after() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    _, first = limiter.take(1)
    answer(limiter, first, 600, 599, 60)
    for _ in range(20):
        assert limiter.take(1)[1] is not None
    # The first request's answer comes again, late: the provider had 25 left when it
    # counted it, and has not seen the 20 sent since. So 5 more may go, then the refill.
    answer(limiter, first, 600, 25, 60)
    times = send_times(limiter, clock, 6)
    assert times[:5] == [times[0]] * 5
    assert times[5] > times[0]


def test_a_changed_limit_takes_effect_at_once() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    _, ticket = limiter.take(1)
    answer(limiter, ticket, 60, 0, 30)
    assert limiter.take(1)[1] is None  # spent: held until the reset
    answer(limiter, None, 120, 60, 30)  # the plan changed (say, a new tier)
    assert limiter.learned == {"requests/60s": 120}
    wait, ticket = limiter.take(1)
    assert wait == 0
    assert ticket is not None


def test_after_a_reset_one_request_goes_and_its_answer_says_how_many_more() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    _, ticket = limiter.take(1)
    answer(limiter, ticket, 600, 0, 10)
    wait, none = limiter.take(1)
    assert none is None
    assert wait == pytest.approx(10)
    clock.now += 10
    _, probe = limiter.take(1)
    assert probe is not None
    assert limiter.take(1)[1] is None  # a sliding window may have freed only its oldest
    answer(limiter, probe, 600, 300, 50)  # it freed 300
    assert send_times(limiter, clock, 300) == [clock.now] * 300


def test_once_the_bucket_is_spent_the_refill_rate_is_kept() -> None:
    clock = Clock()
    start = clock.now
    limiter = RateLimiter(clock=clock)
    limiter.observe({"x-ratelimit-limit-requests-minute": "600"}, 200)
    times = send_times(limiter, clock, 1800)  # three minutes' worth, with no answers
    assert times[:600] == [start] * 600  # a full bucket goes at once
    later = times[600:]
    assert most_in_any_window(later, 60.0) <= 600
    rate = (len(later) - 1) / (later[-1] - later[0])
    assert 0.95 * 10 <= rate <= 10


def test_a_429_holds_every_caller_until_its_reset() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.observe(
        {"x-ratelimit-remaining-requests-minute": "0", "x-ratelimit-reset-requests-minute": "7"},
        429,
    )
    assert limiter.describe()["rate_limited"] == 1
    assert [limiter.take(1)[0] for _ in range(3)] == [7.0, 7.0, 7.0]
    clock.now += 7
    wait, ticket = limiter.take(1)
    assert wait == 0
    assert ticket is not None


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
    assert limiter.take(1)[0] == pytest.approx(3600)


@pytest.mark.parametrize("garbage", ["lots", "-5", "nan", "inf", "1e999", ""])
def test_garbage_header_values_are_ignored(garbage: str) -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.observe(
        {
            "x-ratelimit-limit-requests-minute": garbage,
            "x-ratelimit-remaining-requests-minute": garbage,
            "x-ratelimit-reset-requests-minute": garbage,
        },
        200,
    )
    assert limiter.learned == {}
    assert send_times(limiter, clock, 10) == [clock.now] * 10


def test_a_probe_that_got_no_answer_frees_its_place() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    probes = [limiter.take(1)[1] for _ in range(PROBE)]
    assert limiter.take(1)[1] is None  # the probe is out
    first = probes[0]
    assert first is not None
    limiter.abandon(first)  # its connection failed: no answer will come
    assert limiter.take(1)[1] is not None


def test_a_probe_lost_without_a_word_stops_holding_the_others_after_a_while() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for _ in range(PROBE):
        limiter.take(1)
    assert limiter.take(1)[1] is None
    clock.now += 61
    assert limiter.take(1)[1] is not None


@pytest.mark.parametrize("reset", ["1e999", "inf", "nan"])
def test_an_endless_reset_is_not_a_hold_forever(reset: str) -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.observe({"retry-after": reset}, 429)
    wait, _ = limiter.take(1)
    assert wait <= 1.0  # an unreadable reset: the default one-second hold


def test_a_model_written_by_another_version_is_read() -> None:
    """A shared model in Redis may come from another version of leadq during an upgrade."""
    written = BucketModel(answered=True).to_dict()
    written["a_field_from_elsewhere"] = 7
    written["buckets"] = {"requests/60s": {"capacity": 60, "rate": 1, "level": 5, "old": 1}}
    model = BucketModel.from_dict(written)
    assert model.answered
    assert model.buckets["requests/60s"].level == 5


# ---- a provider's own header names (Anthropic's) -------------------------------------------

ANTHROPIC = providers()["anthropic"].rate_limit_headers
NOW = 1_795_000_000.0  # a fixed "now", in Unix time, for RFC 3339 resets


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (dt.datetime.fromtimestamp(NOW + 30, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), 30.0),
        (dt.datetime.fromtimestamp(NOW + 1.25, dt.UTC).isoformat(), 1.25),
        (dt.datetime.fromtimestamp(NOW + 90, dt.timezone(dt.timedelta(hours=2))).isoformat(), 90),
        (dt.datetime.fromtimestamp(NOW - 5, dt.UTC).isoformat(), 0.0),  # already past
    ],
)
def test_rfc3339_reset_is_seconds_from_now(text: str, seconds: float) -> None:
    assert parse_reset(text, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["2026-11-20", "2026-11-20T10:00:30", "2026-13-20T10:00:30Z"])
def test_a_date_without_a_time_or_an_offset_is_no_reset(text: str) -> None:
    assert parse_reset(text, now=NOW) is None  # a naive time is ambiguous: ignored


def test_rfc3339_reset_on_the_wall_clock() -> None:
    soon = dt.datetime.fromtimestamp(time.time() + 20, dt.UTC).isoformat()
    assert 15 < (parse_reset(soon) or 0) <= 20


def anthropic_headers(
    requests: tuple[int, int], output: tuple[int, int] | None = None, reset: float = 30
) -> dict[str, str]:
    """Anthropic's headers: (limit, remaining) of requests and output tokens a minute."""
    at = dt.datetime.fromtimestamp(time.time() + reset, dt.UTC).isoformat()
    out = {
        "anthropic-ratelimit-requests-limit": str(requests[0]),
        "anthropic-ratelimit-requests-remaining": str(requests[1]),
        "anthropic-ratelimit-requests-reset": at,
    }
    if output is not None:
        out |= {
            "anthropic-ratelimit-output-tokens-limit": str(output[0]),
            "anthropic-ratelimit-output-tokens-remaining": str(output[1]),
            "anthropic-ratelimit-output-tokens-reset": at,
        }
    return out


def test_windows_read_by_the_providers_header_names() -> None:
    headers = {
        **anthropic_headers((50, 0), (8000, 6464), reset=12),
        "Anthropic-Ratelimit-Input-Tokens-Limit": "40000",  # any case
        "anthropic-ratelimit-tokens-limit": "48000",
        "x-ratelimit-limit-requests": "999",  # another vendor's names: not this provider's
    }
    got = {w.kind: w for w in read_windows(headers, ANTHROPIC)}
    assert set(got) == {"requests", "output_tokens", "input_tokens", "tokens"}
    assert {w.seconds for w in got.values()} == {60.0}
    assert (got["requests"].limit, got["requests"].remaining) == (50, 0)
    assert got["output_tokens"].remaining == 6464
    assert got["input_tokens"].limit == 40000
    assert 11 < (got["requests"].reset or 0) <= 12
    assert 11 < (retry_after(headers, ANTHROPIC) or 0) <= 12  # the exhausted window's reset
    assert retry_after({"retry-after": "7"}, ANTHROPIC) == 7


def test_a_429s_retry_after_comes_before_resets_when_the_data_says_so() -> None:
    # Anthropic's resets are when a bucket is full again: its `retry-after` says when there
    # is room, sooner.
    headers = {**anthropic_headers((50, 0), reset=40), "retry-after": "3"}
    assert ANTHROPIC is not None
    assert ANTHROPIC.retry_after_first
    assert retry_after(headers, ANTHROPIC) == 3
    assert 39 < (retry_after(headers, HeaderScheme(ANTHROPIC.prefixes)) or 0) <= 40


def test_unknown_kinds_in_the_data_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown rate-limit kinds"):
        HeaderScheme((("cats", "x-cats"),))


def test_input_and_output_windows_each_take_their_share() -> None:
    """An output-token window counts the completion budget, an input-token one the prompt,
    a `tokens` one both: each holds requests back by its own share only."""
    clock = Clock()
    limiter = RateLimiter(clock=clock, scheme=ANTHROPIC)
    _, ticket = limiter.take(1500, output=1000)
    limiter.observe(
        {
            **anthropic_headers((1000, 999), (10_000, 9_000)),
            "anthropic-ratelimit-input-tokens-limit": "100000",
            "anthropic-ratelimit-input-tokens-remaining": "99500",
        },
        200,
        ticket,
    )
    assert limiter.learned == {
        "requests/60s": 1000,
        "output_tokens/60s": 10_000,
        "input_tokens/60s": 100_000,
    }
    # 9,000 output tokens left: 9 requests of 1,000 go now, whatever their prompts.
    times = [limiter.take(1500, output=1000) for _ in range(10)]
    assert [t is not None for _, t in times] == [True] * 9 + [False]
    assert times[9][0] == pytest.approx(1000 / (10_000 / 60 * 0.98))  # one budget's refill


def test_an_answer_is_corrected_by_what_each_window_saw_after_it() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, scheme=ANTHROPIC)
    _, first = limiter.take(100, output=50)
    for _ in range(3):
        assert limiter.take(100, output=50)[1] is not None  # the probe: 4 before an answer
    # The first request's answer: 200 output tokens were left when it was counted, and the
    # 3 sent since (150) are not in it: 50 are left, one more request's worth.
    limiter.observe(anthropic_headers((1000, 999), (1000, 200)), 200, first)
    assert limiter.take(100, output=50)[1] is not None
    assert limiter.take(100, output=50)[1] is None


def test_the_limiter_of_an_endpoint_reads_its_providers_headers() -> None:
    from leadq.config import Settings
    from leadq.providers.endpoint import endpoint_for

    info = providers()["anthropic"]
    settings = Settings(anthropic_api_key="sk-ant-k", _env_file=None)
    limiter = endpoint_for(settings, info).limiter("claude-haiku-4-5", settings)
    limiter.observe(anthropic_headers((50, 49)), 200)
    assert limiter.learned == {"requests/60s": 50}
