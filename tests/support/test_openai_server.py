"""Self-test of the scripted server against the real `openai` SDK and LangChain."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import openai
import pytest

from tests.support.openai_server import Reply, ScriptedServer, chat_reply_json

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
