"""The Messages API wire format: request bodies and fields as pure logic, and the model step
over real HTTP against the scripted Messages API server (whole answers, streams, error events,
cut streams). The backend on top of it: tests/backends/test_anthropic.py."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate

from leadq.chain.answer_schema import ANSWER_NAME, ANSWER_SCHEMA
from leadq.chain.parse import Reply
from leadq.core.errors import (
    BadProviderAnswer,
    ProviderNotConfigured,
    ProviderUnavailable,
    RateLimited,
)
from leadq.providers.catalog import providers
from leadq.wire.anthropic_messages import (
    API_VERSION,
    AnthropicMessages,
    StreamState,
    read_event,
    read_message,
)
from leadq.wire.apis import wire_api
from leadq.wire.step import CallShape, ProviderHTTPError
from tests.support import anthropic_server as scripted

INFO = providers()["anthropic"]


def _call(method: str = "json_schema", **kw: Any) -> CallShape:
    args: dict[str, Any] = {
        "info": INFO,
        "model": "claude-haiku-4-5",
        "max_tokens": 1536,
        "temperature": 0.0,
        "reasoning_effort": None,
        "method": method,
    }
    return CallShape(**{**args, **kw})


def _step(session: aiohttp.ClientSession | None = None, **kw: Any) -> AnthropicMessages:
    args: dict[str, Any] = {
        "session": session,
        "base_url": "http://x/",
        "api_key": "sk-ant-k",
        "fields": AnthropicMessages.request_fields(_call()),
        "from_tool": False,
    }
    return AnthropicMessages(**{**args, **kw})


def _prompt() -> PromptValue:
    template = ChatPromptTemplate.from_messages([("system", "S ü"), ("human", "{x}")])
    return template.format_prompt(x='<lead_data>{"a":"\\"b"}</lead_data>')


# ---- the request -------------------------------------------------------------------------


def test_the_provider_data_picks_this_wire_format() -> None:
    assert wire_api(INFO.api) is AnthropicMessages
    with pytest.raises(ValueError, match="unknown api"):
        wire_api("soap")


@pytest.mark.parametrize("stream", [False, True])
def test_body_has_the_system_text_apart_and_the_turns(stream: bool) -> None:
    body = json.loads(_step().body(_prompt(), stream=stream))
    assert body["system"] == "S ü"
    assert body["messages"] == [{"role": "user", "content": '<lead_data>{"a":"\\"b"}</lead_data>'}]
    assert body["max_tokens"] == 1536
    assert body["model"] == "claude-haiku-4-5"
    assert body.get("stream", False) is stream


def test_json_schema_asks_for_output_config_format() -> None:
    fields = AnthropicMessages.request_fields(_call("json_schema"))
    assert fields["output_config"] == {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}
    assert "tools" not in fields
    assert fields["temperature"] == 0.0


def test_function_calling_forces_a_strict_tool() -> None:
    fields = AnthropicMessages.request_fields(_call("function_calling"))
    (tool,) = fields["tools"]
    assert (tool["name"], tool["strict"], tool["input_schema"]) == (
        ANSWER_NAME,
        True,
        ANSWER_SCHEMA,
    )
    assert fields["tool_choice"] == {"type": "tool", "name": ANSWER_NAME}
    assert "output_config" not in fields


@pytest.mark.parametrize("method", ["json_mode", "json_object_schema"])
def test_a_prompt_only_method_is_refused_naming_the_setting(method: str) -> None:
    with pytest.raises(ProviderNotConfigured, match=f"LEADQ_STRUCTURED_OUTPUT={method}"):
        AnthropicMessages.request_fields(_call(method))


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_reasoning_effort_is_sent_as_output_config_effort_only_when_set(method: str) -> None:
    fields = AnthropicMessages.request_fields(_call(method, reasoning_effort="medium"))
    assert fields["output_config"]["effort"] == "medium"
    assert "reasoning_effort" not in fields
    if method == "json_schema":  # beside the answer's format, not instead of it
        assert fields["output_config"]["format"]["schema"] == ANSWER_SCHEMA
    unset = AnthropicMessages.request_fields(_call(method))
    assert "effort" not in unset.get("output_config", {})


def test_no_temperature_when_the_model_takes_none() -> None:
    assert "temperature" not in AnthropicMessages.request_fields(_call(temperature=None))
    assert not INFO.takes_temperature("claude-opus-4-7")
    assert INFO.takes_temperature("claude-haiku-4-5")


def test_unsupported_schema_keywords_are_left_out_and_said_in_the_description() -> None:
    info = dataclasses.replace(INFO, schema_unsupported=("minimum", "maximum", "maxLength"))
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "Fit."},
            "minimum": {"type": "string", "maxLength": 9},  # a property named like a keyword
        },
    }
    from leadq.chain.answer_schema import schema_without

    derived = schema_without(info.schema_unsupported, schema)
    assert derived["properties"]["score"] == {
        "type": "number",
        "description": "Fit. {minimum: 0, maximum: 1}",
    }
    assert derived["properties"]["minimum"] == {"type": "string", "description": "{maxLength: 9}"}
    assert scripted.request_problem(
        {
            "max_tokens": 1,
            "messages": [{"role": "user", "content": "x"}],
            "output_config": {"format": {"schema": schema}},
        },
        {"anthropic-version": API_VERSION},
    )  # the scripted API refuses the original ...
    assert (
        scripted.request_problem(
            {
                "max_tokens": 1,
                "messages": [{"role": "user", "content": "x"}],
                "output_config": {"format": {"schema": derived}},
            },
            {"anthropic-version": API_VERSION},
        )
        is None
    )  # ... and takes the derived one


def test_headers_url_and_repr_never_show_the_key() -> None:
    step = _step(api_key="sk-ant-SECRET")
    assert step.url == "http://x/v1/messages"
    assert step.headers["x-api-key"] == "sk-ant-SECRET"
    assert step.headers["anthropic-version"] == API_VERSION
    assert "sk-ant-SECRET" not in repr(step)
    assert "x-api-key" not in _step(api_key=None).headers


def test_async_only() -> None:
    with pytest.raises(TypeError, match="async"):
        _step().invoke(_prompt())


# ---- answers -----------------------------------------------------------------------------


def _message(blocks: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> bytes:
    counts = {"input_tokens": 10, "output_tokens": 4, **usage}
    return json.dumps({"content": blocks, "stop_reason": stop, "usage": counts}).encode()


def test_whole_message_text_stop_reason_and_usage() -> None:
    raw = _message([{"type": "text", "text": '{"a": 1}'}], cache_read_input_tokens=5)
    reply = read_message(raw, False)
    assert (reply.text, reply.finish_reason) == ('{"a": 1}', "end_turn")
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (15, 4)
    assert (reply.usage.cached_tokens, reply.usage.total_tokens) == (5, 19)


def test_tool_input_is_the_answer() -> None:
    block = {"type": "tool_use", "id": "t", "name": ANSWER_NAME, "input": {"a": 1}}
    assert json.loads(read_message(_message([block], "tool_use"), True).text) == {"a": 1}
    text = {"type": "text", "text": '{"b": 2}'}  # the model answered in text after all
    assert read_message(_message([text]), True).text == '{"b": 2}'


@pytest.mark.parametrize(
    ("stop", "match"),
    [
        ("refusal", "refused"),
        ("max_tokens", "LEADQ_MAX_COMPLETION_TOKENS"),
        ("pause_turn", "pause"),
    ],
)
def test_a_stop_before_the_answer_is_finished_is_an_error(stop: str, match: str) -> None:
    with pytest.raises(BadProviderAnswer, match=match) as info:
        read_message(_message([{"type": "text", "text": '{"a": '}], stop), False)
    assert info.value.answer == ('{"a": ' if stop == "max_tokens" else None)


@pytest.mark.parametrize("raw", [b"<html>busy</html>", b"{}", b'{"content": [{"x": 1}]}', b"[1]"])
def test_anything_but_a_message_is_a_bad_answer(raw: bytes) -> None:
    with pytest.raises(BadProviderAnswer, match="not a message"):
        read_message(raw, False)


def _events(*payloads: dict[str, Any], from_tool: bool = False) -> list[Reply]:
    state = StreamState()
    out = []
    for payload in payloads:
        reply = read_event(json.dumps(payload).encode(), from_tool, state)
        if reply is not None:
            out.append(reply)
    return out


START = {"type": "message_start", "message": {"usage": {"input_tokens": 20, "output_tokens": 1}}}


def _delta(kind: str, **fields: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": {"type": kind, **fields}}


def test_stream_events_to_chunks_then_stop_and_usage() -> None:
    replies = _events(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        {"type": "ping"},
        _delta("text_delta", text='{"a"'),
        _delta("text_delta", text=": 1}"),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    )
    assert [r.text for r in replies] == ['{"a"', ": 1}", ""]
    assert replies[-1].finish_reason == "end_turn"
    assert replies[-1].usage is not None
    assert (replies[-1].usage.input_tokens, replies[-1].usage.output_tokens) == (20, 9)


def test_tool_stream_takes_the_partial_json_only() -> None:
    replies = _events(
        START,
        _delta("thinking_delta", thinking="hm"),
        _delta("input_json_delta", partial_json='{"b"'),
        _delta("text_delta", text="ignored"),
        from_tool=True,
    )
    assert [r.text for r in replies] == ['{"b"']


def test_stream_stop_reasons_and_error_events() -> None:
    with pytest.raises(BadProviderAnswer, match="refused"):
        _events(START, {"type": "message_delta", "delta": {"stop_reason": "refusal"}})
    with pytest.raises(BadProviderAnswer, match="max_tokens") as info:
        _events(
            START,
            _delta("text_delta", text='{"cut'),
            {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}},
        )
    assert info.value.answer == '{"cut'
    with pytest.raises(ProviderUnavailable, match="overloaded_error: Overloaded"):
        _events({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(RateLimited):
        _events({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})
    with pytest.raises(BadProviderAnswer, match="unexpected event"):
        read_event(b"not json", False, StreamState())


# ---- over real HTTP ----------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


GOOD_TEXT = json.dumps({"fit_score": 0.8, "reasoning": "VP buyer, evaluating now."})


async def test_whole_answer_over_http(anthropic_server, session) -> None:
    anthropic_server.queue(scripted.Reply(text=GOOD_TEXT))
    step = _step(session, base_url=anthropic_server.url)
    reply = await step.ainvoke(_prompt())
    assert json.loads(reply.text) == json.loads(GOOD_TEXT)
    assert reply.usage is not None
    assert reply.usage.output_tokens == len(GOOD_TEXT) // 4
    headers = anthropic_server.request_headers[-1]
    assert (headers["x-api-key"], headers["anthropic-version"]) == ("sk-ant-k", API_VERSION)
    assert anthropic_server.requests[-1]["system"] == "S ü"


async def test_stream_over_http_arrives_in_chunks(anthropic_server, session) -> None:
    anthropic_server.queue(scripted.Reply(text=GOOD_TEXT, chunk_chars=10))
    step = _step(session, base_url=anthropic_server.url)
    replies = [r async for r in step.astream(_prompt())]
    texts = [r.text for r in replies if r.text]
    assert texts == [GOOD_TEXT[i : i + 10] for i in range(0, len(GOOD_TEXT), 10)]
    assert replies[-1].finish_reason == "end_turn"
    assert anthropic_server.requests[-1]["stream"] is True
    assert anthropic_server.completed == 1


async def test_tool_stream_over_http(anthropic_server, session) -> None:
    fields = AnthropicMessages.request_fields(_call("function_calling"))
    step = _step(session, base_url=anthropic_server.url, fields=fields, from_tool=True)
    anthropic_server.queue(scripted.Reply(tool_input=GOOD_TEXT, chunk_chars=7))
    text = "".join([r.text async for r in step.astream(_prompt())])
    assert json.loads(text) == json.loads(GOOD_TEXT)
    assert anthropic_server.requests[-1]["tool_choice"] == {"type": "tool", "name": ANSWER_NAME}


async def _collect(replies: AsyncIterator[Reply], into: list[str]) -> None:
    """Each chunk's text into `into`, as it comes: what came before a failure is kept."""
    async for reply in replies:
        into.append(reply.text)  # noqa: PERF401 - not a comprehension: it would keep nothing


async def test_error_event_after_chunks_over_http(anthropic_server, session) -> None:
    anthropic_server.queue(scripted.Reply(text=GOOD_TEXT, chunk_chars=10, error_after=2))
    step = _step(session, base_url=anthropic_server.url)
    seen: list[str] = []
    with pytest.raises(ProviderUnavailable, match="overloaded_error"):
        await _collect(step.astream(_prompt()), seen)
    assert seen == [GOOD_TEXT[:10], GOOD_TEXT[10:20]]


async def test_cut_and_unfinished_streams_over_http(anthropic_server, session) -> None:
    step = _step(session, base_url=anthropic_server.url)
    anthropic_server.queue(scripted.Reply(text=GOOD_TEXT, chunk_chars=10, cut_after=2))
    with pytest.raises(aiohttp.ClientPayloadError):
        _ = [r async for r in step.astream(_prompt())]
    anthropic_server.queue(
        scripted.Reply(
            body='event: ping\ndata: {"type": "ping"}\n\n',
            headers={"content-type": "text/event-stream"},
        )
    )
    with pytest.raises(ProviderUnavailable, match="ended before the answer"):
        _ = [r async for r in step.astream(_prompt())]


async def test_a_server_that_does_not_stream_is_read_whole(anthropic_server, session) -> None:
    body = {"content": [{"type": "text", "text": GOOD_TEXT}], "stop_reason": "end_turn"}
    anthropic_server.queue(scripted.Reply(body=body))  # JSON, whatever the request asked
    step = _step(session, base_url=anthropic_server.url)
    replies = [r async for r in step.astream(_prompt())]
    assert [r.text for r in replies] == [GOOD_TEXT]


async def test_http_errors_keep_status_headers_and_message(anthropic_server, session) -> None:
    anthropic_server.queue(
        scripted.Reply(
            status=529, body=scripted.error_body(529, "Overloaded"), headers={"retry-after": "3"}
        )
    )
    step = _step(session, base_url=anthropic_server.url)
    with pytest.raises(ProviderHTTPError) as info:
        await step.ainvoke(_prompt())
    assert info.value.status_code == 529
    assert info.value.headers["retry-after"] == "3"
    assert info.value.message() == "Overloaded"
