"""The chat-completions wire format, as pure logic: request bodies, whole answers, stream
events and provider error bodies. Over real HTTP: test_llm_http.py, test_resilience_http.py."""

import json

import pytest
from langchain_core.prompts import ChatPromptTemplate

from leadq.core.errors import BadProviderAnswer, ProviderUnavailable
from leadq.wire.openai_chat import (
    ChatCompletions,
    ProviderHTTPError,
    read_completion,
    read_event,
)

FIELDS = {"model": "m", "temperature": 0.0, "response_format": {"type": "json_object"}}


def _step(**kw) -> ChatCompletions:
    args = {"session": None, "base_url": "http://x/v1/", "api_key": "k", "fields": FIELDS}
    return ChatCompletions(**{**args, "from_tool": False, **kw})


def _prompt():
    template = ChatPromptTemplate.from_messages([("system", "S ü"), ("human", "{x}")])
    return template.format_prompt(x='<lead_data>{"a":"\\"b"}</lead_data>')


@pytest.mark.parametrize("stream", [False, True])
def test_body_is_the_fields_plus_the_messages(stream: bool) -> None:
    body = json.loads(_step().body(_prompt(), stream=stream))
    assert body["messages"] == [
        {"role": "system", "content": "S ü"},
        {"role": "user", "content": '<lead_data>{"a":"\\"b"}</lead_data>'},
    ]
    assert {k: body[k] for k in FIELDS} == FIELDS
    assert body.get("stream", False) is stream
    assert ("stream_options" in body) is stream


def test_url_and_repr_never_show_the_key() -> None:
    step = _step(api_key="sk-secret")
    assert step.url == "http://x/v1/chat/completions"
    assert step.headers["Authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in repr(step)
    assert "Authorization" not in _step(api_key=None).headers


def test_async_only() -> None:
    with pytest.raises(TypeError, match="async"):
        _step().invoke(_prompt())


def _completion(message: dict, **extra) -> bytes:
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return json.dumps({"choices": [choice], **extra}).encode()


def test_whole_answer_text_finish_and_usage() -> None:
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    reply = read_completion(_completion({"content": '{"a": 1}'}, usage=usage), False)
    assert reply.text == '{"a": 1}'
    assert reply.finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (12, 3)
    assert reply.usage.cached_tokens == 4


def test_tool_call_arguments_are_the_answer() -> None:
    call = {"type": "function", "function": {"name": "q", "arguments": '{"a": 1}'}}
    raw = _completion({"content": None, "tool_calls": [call]})
    assert read_completion(raw, True).text == '{"a": 1}'
    # A provider that ignored the forced tool and answered in content is still read.
    assert read_completion(_completion({"content": '{"b": 2}'}), True).text == '{"b": 2}'


@pytest.mark.parametrize(
    "raw", [b"<html>busy</html>", b"{}", b'{"choices": []}', b'{"choices": [{"x": 1}]}', b"[1]"]
)
def test_anything_but_a_chat_completion_is_a_bad_answer(raw: bytes) -> None:
    with pytest.raises(BadProviderAnswer, match="not a chat completion"):
        read_completion(raw, False)


def test_stream_events() -> None:
    delta = read_event(b'{"choices":[{"delta":{"content":"{\\"a"},"finish_reason":null}]}', False)
    assert delta.text == '{"a'
    assert delta.finish_reason is None
    assert delta.usage is None
    last = read_event(b'{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}', False)
    assert last.text == ""
    assert last.usage is not None
    assert last.usage.input_tokens == 5
    tool = b'{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"b"}}]}}]}'
    assert read_event(tool, True).text == '{"b'


def test_stream_event_failures() -> None:
    with pytest.raises(BadProviderAnswer, match="non-JSON"):
        read_event(b"not json", False)
    with pytest.raises(BadProviderAnswer, match="unexpected"):
        read_event(b"[1]", False)
    with pytest.raises(ProviderUnavailable, match="overloaded"):
        read_event(b'{"error": {"message": "overloaded"}}', False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": {"message": "model not found"}}', "model not found"),
        ('{"message": "quota"}', "quota"),
        ('{"error": "bad key"}', "bad key"),
        ("Service Unavailable", "Service Unavailable"),
    ],
)
def test_provider_error_message(body: str, message: str) -> None:
    assert ProviderHTTPError(400, {}, body).message() == message


def test_proxy_from_the_environment(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert _step(base_url="https://api.example.com/v1").proxy is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert _step(base_url="https://api.example.com/v1").proxy == "http://proxy.corp:3128"
    assert _step(base_url="http://api.example.com/v1").proxy is None  # no HTTP_PROXY
    monkeypatch.setenv("NO_PROXY", "example.com")
    assert _step(base_url="https://api.example.com/v1").proxy is None
