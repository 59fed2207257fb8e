"""Self-test of the scripted server against the real `openai` SDK and LangChain."""

from __future__ import annotations

import bisect
import json
import math
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from leadq.providers.ratelimit import parse_reset
from tests.support.openai_server import (
    RateLimit,
    Reply,
    ScriptedServer,
    chat_reply_json,
    openai_duration,
)

MESSAGES = [{"role": "user", "content": "Qualify this lead."}]


@pytest.fixture
def client(openai_server: ScriptedServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=openai_server.url, api_key="k", max_retries=0) as c:
        yield c


def wait_for(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_non_streaming_answer_queue_then_handler(openai_server, client) -> None:
    openai_server.queue(chat_reply_json({"score": 1}))
    first = client.chat.completions.create(model="m-1", messages=MESSAGES, temperature=0)
    second = client.chat.completions.create(model="m-2", messages=MESSAGES)
    assert json.loads(first.choices[0].message.content) == {"score": 1}
    assert first.model == "m-1"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage.prompt_tokens == len(json.dumps(MESSAGES)) // 4
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert set(first.model_extra["time_info"]) >= {"queue_time", "total_time"}
    assert second.choices[0].message.content == '{"ok": true}'  # the default handler
    assert [r["model"] for r in openai_server.requests] == ["m-1", "m-2"]
    assert openai_server.requests[0]["temperature"] == 0
    assert openai_server.request_headers[0]["authorization"] == "Bearer k"
    assert openai_server.completed == 2
    assert openai_server.in_flight == 0
    assert [m.id for m in client.models.list()] == ["test-model"]


def test_streaming_arrives_in_chunks_with_usage(openai_server, client) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    openai_server.handler = lambda body: Reply(
        content=text,
        chunk_chars=10,
        usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    )
    chunks = list(
        client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert pieces == [text[i : i + 10] for i in range(0, len(text), 10)]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 10
    assert openai_server.completed == 1


def test_tool_call_streamed_reassembles(openai_server, client) -> None:
    args = json.dumps({"fit_score": 0.8, "reasoning": "Strong fit, VP buyer, active evaluation."})
    openai_server.queue(Reply(tool_call=("submit", args), chunk_chars=7))
    name, received, finish = None, "", None
    for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.index == 0
            name = name or call.function.name
            received += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, received, finish) == ("submit", args, "tool_calls")


def test_429_with_reset_header(openai_server, client) -> None:
    openai_server.queue(
        Reply(
            status=429,
            headers={
                "x-ratelimit-reset-requests-minute": "7.5",
                "x-ratelimit-remaining-requests-minute": "0",
            },
        )
    )
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    headers = info.value.response.headers
    assert headers["x-ratelimit-reset-requests-minute"] == "7.5"
    assert headers["x-ratelimit-remaining-requests-minute"] == "0"
    assert headers["x-ratelimit-limit-tokens-minute"]  # the defaults are still there
    assert info.value.code == "request_quota_exceeded"
    assert len(openai_server.requests) == 1


def test_non_json_200_body_fails(openai_server, client) -> None:
    openai_server.queue(Reply(body="<html>oops"))
    with pytest.raises(json.JSONDecodeError):  # labelled JSON but is not
        client.chat.completions.create(model="m", messages=MESSAGES)
    # Labelled honestly as HTML, the SDK does not raise: it hands back the text.
    openai_server.queue(Reply(body="<html>oops", headers={"content-type": "text/html"}))
    assert client.chat.completions.create(model="m", messages=MESSAGES) == "<html>oops"


@pytest.mark.parametrize("stream", [True, False])
def test_cut_answer_raises(openai_server, client, stream) -> None:
    openai_server.queue(Reply(content="x" * 100, chunk_chars=10, cut_after=3))
    seen: list[str] = []
    if stream:
        chunks = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIConnectionError):
            seen.extend(
                c.delta.content for chunk in chunks for c in chunk.choices if c.delta.content
            )
    else:
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="m", messages=MESSAGES)
    assert seen == (["x" * 10] * 3 if stream else [])
    assert openai_server.cut == 1  # counted before the connection drops
    assert openai_server.completed == 0
    assert openai_server.in_flight == 0


def test_client_timeout_counts_as_cancelled(openai_server, client) -> None:
    openai_server.queue(Reply(content="late", delay=3))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model="m", messages=MESSAGES)
    assert wait_for(lambda: openai_server.cancelled == 1)
    assert time.monotonic() - started < 2  # noticed the disconnect; did not sit out the delay
    assert openai_server.completed == 0
    assert openai_server.in_flight == 0


def test_langchain_streams_content_chunks(openai_server) -> None:
    from langchain_openai import ChatOpenAI

    text = "Hello from the scripted server!"
    openai_server.handler = lambda body: Reply(content=text, chunk_chars=4)
    llm = ChatOpenAI(
        base_url=openai_server.url, api_key="k", model="m", max_retries=0, stream_usage=True
    )
    chunks = list(llm.stream("hi"))
    pieces = [c.content for c in chunks if isinstance(c.content, str) and c.content]
    assert len(pieces) == 8
    assert "".join(pieces) == text
    assert openai_server.requests[-1]["stream"] is True
    assert openai_server.requests[-1]["stream_options"] == {"include_usage": True}
    assert sum(c.usage_metadata["total_tokens"] for c in chunks if c.usage_metadata) > 0


# ---- rate limits -------------------------------------------------------------------------


class FakeClock:
    """A `RateLimit.clock` the test moves by hand, so nothing depends on the machine's speed."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ask(server: ScriptedServer, **body: object) -> httpx.Response:
    return httpx.post(
        f"{server.url}/chat/completions",
        json={"model": "m", "messages": MESSAGES, **body},
        timeout=10,
    )


def most_in_window(times: list[float], window: float) -> int:
    """The most admissions in any `window`-long interval [t, t + window)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)


def burst(server: ScriptedServer, n: int) -> list[httpx.Response]:
    return [ask(server) for _ in range(n)]


MODES = ["fixed", "sliding", "bucket"]


@pytest.mark.parametrize("mode", MODES)
def test_rate_limit_sixth_immediate_request_is_429(openai_server, mode) -> None:
    clock = FakeClock()
    openai_server.rate_limit = RateLimit(5, window=1.0, unit="second", mode=mode, clock=clock)
    answers = burst(openai_server, 6)
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["x-ratelimit-remaining-requests-second"] for a in answers[:5]] == [
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    over = answers[5].headers
    assert over["x-ratelimit-limit-requests-second"] == "5"
    assert over["x-ratelimit-remaining-requests-second"] == "0"
    assert over["x-ratelimit-reset-requests-second"] == "1.000"  # nothing has moved the clock
    assert "x-ratelimit-limit-requests-minute" not in over  # not the never-biting defaults
    assert answers[5].json()["code"] == "request_quota_exceeded"
    if mode == "fixed":
        assert "retry-after" not in over  # as before this option existed
    else:
        assert over["retry-after"] == "1"  # a whole second, rounded up
    assert openai_server.rejected == 1
    assert openai_server.admitted_times == [clock.now] * 5
    assert openai_server.completed == 6  # a 429 is a completed answer too
    openai_server.reset()
    assert (openai_server.rejected, openai_server.admitted_times) == (0, [])


@pytest.mark.parametrize("mode", MODES)
def test_rate_limit_on_the_real_clock(openai_server, mode) -> None:
    # A minute-long window, so no machine is slow enough for a refill or a reset to land
    # between the six requests.
    openai_server.rate_limit = RateLimit(5, window=60.0, mode=mode)
    answers = burst(openai_server, 6)
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    headers = answers[5].headers
    assert headers["x-ratelimit-remaining-requests-minute"] == "0"
    assert 0 < float(headers["x-ratelimit-reset-requests-minute"]) <= 60
    if mode != "fixed":
        assert 1 <= int(headers["retry-after"]) <= (12 if mode == "bucket" else 60)
    times = openai_server.admitted_times
    assert len(times) == 5
    assert times == sorted(times)
    assert 0 <= times[-1] - times[0] < 60


def test_bucket_refills_continuously(openai_server) -> None:
    clock = FakeClock()
    openai_server.rate_limit = RateLimit(5, window=1.0, unit="second", mode="bucket", clock=clock)
    assert [a.status_code for a in burst(openai_server, 6)] == [200] * 5 + [429]
    clock.advance(0.2)  # 5 a second: exactly one request back
    again = burst(openai_server, 2)
    assert [a.status_code for a in again] == [200, 429]
    assert again[0].headers["x-ratelimit-remaining-requests-second"] == "0"
    assert again[0].headers["x-ratelimit-reset-requests-second"] == "1.000"  # 5 to refill
    assert again[1].headers["retry-after"] == "1"  # 0.2 s, rounded up
    clock.advance(0.1)  # half a request: still nothing
    assert ask(openai_server).status_code == 429
    clock.advance(0.3)  # 0.4 s since the last admission: 2 requests, of which 1.x remain
    answer = ask(openai_server)
    assert answer.status_code == 200
    assert answer.headers["x-ratelimit-remaining-requests-second"] == "1"  # floor of 1.0
    assert answer.headers["x-ratelimit-reset-requests-second"] == "0.800"  # 4 more at 5/s
    clock.advance(60)  # capped at capacity: a long pause buys no more than 5
    assert [a.status_code for a in burst(openai_server, 6)] == [200] * 5 + [429]
    assert openai_server.rejected == 4
    # A bucket lets through up to its capacity plus a window's refill in any window.
    assert most_in_window(openai_server.admitted_times, 1.0) <= 10


def test_sliding_admits_again_only_when_the_oldest_leaves(openai_server) -> None:
    clock = FakeClock()
    start = clock.now
    openai_server.rate_limit = RateLimit(5, window=1.0, unit="second", mode="sliding", clock=clock)
    assert ask(openai_server).status_code == 200  # +0
    clock.now = start + 0.5
    assert [a.status_code for a in burst(openai_server, 4)] == [200] * 4  # +0.5 x4
    clock.now = start + 0.9  # five in the window
    over = ask(openai_server)
    assert over.status_code == 429
    assert over.headers["x-ratelimit-remaining-requests-second"] == "0"
    assert over.headers["x-ratelimit-reset-requests-second"] == "0.100"  # the +0 one leaves
    assert over.headers["retry-after"] == "1"
    clock.now = start + 0.999
    assert ask(openai_server).status_code == 429
    clock.now = start + 1.0  # the +0 one has left: one place
    answers = burst(openai_server, 2)
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[0].headers["x-ratelimit-remaining-requests-second"] == "0"
    assert answers[0].headers["x-ratelimit-reset-requests-second"] == "0.500"  # the +0.5 ones
    clock.now = start + 1.5  # four leave at once
    answers = burst(openai_server, 5)
    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert [a.headers["x-ratelimit-remaining-requests-second"] for a in answers] == [
        "3",
        "2",
        "1",
        "0",
        "0",
    ]
    assert openai_server.rejected == 4
    assert most_in_window(openai_server.admitted_times, 1.0) == 5


@pytest.mark.parametrize(
    ("mode", "admitted", "most"), [("fixed", 10, 9), ("sliding", 6, 5), ("bucket", 6, 6)]
)
def test_window_edges(openai_server, mode, admitted, most) -> None:
    # One request, then a burst of 5 just before and one just after the first second: a fixed
    # window lets nearly twice its limit through across the edge, a sliding one never more
    # than its limit, a bucket its capacity plus what refilled meanwhile.
    clock = FakeClock()
    openai_server.rate_limit = RateLimit(5, window=1.0, unit="second", mode=mode, clock=clock)
    ask(openai_server)
    clock.advance(0.99)
    burst(openai_server, 5)
    clock.advance(0.01)
    burst(openai_server, 5)
    assert len(openai_server.admitted_times) == admitted
    assert most_in_window(openai_server.admitted_times, 1.0) == most
    assert openai_server.rejected == 11 - admitted


@pytest.mark.parametrize("mode", ["sliding", "bucket"])
def test_token_limit_refuses_with_tokens_at_zero(openai_server, mode) -> None:
    clock = FakeClock()
    limit = RateLimit(100, window=60.0, tokens=1000, mode=mode, clock=clock)
    openai_server.rate_limit = limit
    cost = 300  # prompt tokens (as the server counts them) + max_completion_tokens
    extra = cost - len(json.dumps(MESSAGES)) // 4
    answers = [ask(openai_server, max_completion_tokens=extra) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 3 + [429]
    assert [a.headers["x-ratelimit-remaining-tokens-minute"] for a in answers] == [
        "700",
        "400",
        "100",
        "0",  # 100 left, not enough for 300: the limit that refused says 0
    ]
    over = answers[3].headers
    assert over["x-ratelimit-remaining-requests-minute"] == "97"  # requests did not refuse it
    assert float(over["x-ratelimit-reset-tokens-minute"]) > 0
    # Sliding: 300 more fit only when the first leaves, in 60 s. Bucket: 200 more at 1000 a
    # minute, in 12 s.
    assert over["retry-after"] == ("60" if mode == "sliding" else "12")
    assert ask(openai_server).status_code == 200  # a cheap request still fits


@pytest.mark.parametrize("mode", MODES)
def test_openai_header_style(openai_server, client, mode) -> None:
    clock = FakeClock()
    openai_server.rate_limit = RateLimit(
        2, window=360.0, tokens=10_000, mode=mode, header_style="openai", clock=clock
    )
    first = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    headers = first.headers
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-limit-tokens"] == "10000"
    assert int(headers["x-ratelimit-remaining-tokens"]) == 10_000 - len(json.dumps(MESSAGES)) // 4
    assert headers["x-ratelimit-reset-tokens"]
    assert not [name for name in headers if name.endswith(("-minute", "-second"))]
    if mode == "bucket":
        # 2 per 6 minutes: one request taken is back in 3 minutes, two in 6.
        assert headers["x-ratelimit-reset-requests"] == "3m0s"
        second = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert second.headers["x-ratelimit-reset-requests"] == "6m0s"
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="m", messages=MESSAGES)
        over = info.value.response.headers
        assert over["x-ratelimit-reset-requests"] == "6m0s"
        assert over["retry-after"] == "180"
    else:
        assert headers["x-ratelimit-reset-requests"] == "6m0s"  # the window, or the request
        clock.advance(358)
        second = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        assert second.headers["x-ratelimit-reset-requests"] == "2s"
        clock.advance(1.98)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="m", messages=MESSAGES)
        over = info.value.response.headers
        assert over["x-ratelimit-reset-requests"] == "20ms"
        assert ("retry-after" in over) == (mode == "sliding")
    assert over["x-ratelimit-remaining-requests"] == "0"
    assert parse_reset(over["x-ratelimit-reset-requests"]) is not None  # leadq reads it


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.02, "20ms"),
        (0.0004, "1ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (8.64, "8.64s"),
        (60, "1m0s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (3725.25, "1h2m5.25s"),
        (0.1 + 0.2, "300ms"),
    ],
)
def test_openai_duration(seconds, text) -> None:
    assert openai_duration(seconds) == text
    assert parse_reset(text) == pytest.approx(math.ceil(seconds * 1000 - 1e-6) / 1000)


def test_new_limit_object_starts_afresh(openai_server) -> None:
    clock = FakeClock()
    limit = RateLimit(2, window=60.0, mode="bucket", clock=clock)
    openai_server.rate_limit = limit
    assert [a.status_code for a in burst(openai_server, 3)] == [200, 200, 429]
    openai_server.rate_limit = RateLimit(2, window=60.0, mode="bucket", clock=clock)
    assert [a.status_code for a in burst(openai_server, 3)] == [200, 200, 429]
    openai_server.reset()
    openai_server.rate_limit = limit  # the same object again, after reset(): full again
    assert [a.status_code for a in burst(openai_server, 3)] == [200, 200, 429]
    assert openai_server.rejected == 1


def test_rate_limit_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="mode"):
        RateLimit(5, mode="leaky")
    with pytest.raises(ValueError, match="header_style"):
        RateLimit(5, header_style="anthropic")
