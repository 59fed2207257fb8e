"""Self-test of the scripted Anthropic server against the official `anthropic` SDK."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadq.providers.ratelimit import parse_reset
from tests.support.anthropic_server import RateLimit, Reply, ScriptedServer, message_json, rfc3339

anthropic = pytest.importorskip("anthropic")

MESSAGES = [{"role": "user", "content": "Qualify this lead."}]
ASK: dict[str, Any] = {"model": "claude-test", "max_tokens": 256, "messages": MESSAGES}


@pytest.fixture
def client(anthropic_server: ScriptedServer) -> Iterator[Any]:
    with anthropic.Anthropic(base_url=anthropic_server.url, api_key="k", max_retries=0) as c:
        yield c


def post(server: ScriptedServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    """A raw request, with the version header unless the test overrides it."""
    return httpx.post(
        f"{server.url}/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01", **headers},
        timeout=10,
    )


def test_message_queue_then_handler(anthropic_server, client) -> None:
    anthropic_server.queue(message_json({"score": 1}))
    first = client.messages.create(**ASK, system="Be brief.")
    second = client.messages.create(**{**ASK, "model": "claude-2"})
    assert json.loads(first.content[0].text) == {"score": 1}
    assert (first.model, first.role, first.stop_reason) == ("claude-test", "assistant", "end_turn")
    assert first.usage.input_tokens == len(json.dumps(["Be brief.", MESSAGES])) // 4
    assert first.usage.output_tokens == len('{"score": 1}') // 4
    assert second.content[0].text == '{"ok": true}'  # the default handler
    assert anthropic_server.requests[0]["system"] == "Be brief."
    assert "anthropic-version" in anthropic_server.request_headers[0]
    assert anthropic_server.completed == 2
    assert anthropic_server.in_flight == 0


def test_text_streams_in_deltas_with_usage(anthropic_server, client) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    anthropic_server.queue(
        Reply(text=text, chunk_chars=10, usage={"input_tokens": 7, "output_tokens": 3})
    )
    with client.messages.stream(**ASK) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == [text[i : i + 10] for i in range(0, len(text), 10)]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 3)
    assert anthropic_server.requests[-1]["stream"] is True


def test_tool_input_streams_as_partial_json(anthropic_server, client) -> None:
    data = {"fit_score": 0.8, "reasoning": "Strong fit, VP buyer, active evaluation."}
    anthropic_server.queue(Reply(tool_input=json.dumps(data), tool_name="submit", chunk_chars=7))
    tools = [{"name": "submit", "input_schema": {"type": "object"}}]
    with client.messages.stream(
        **ASK, tools=tools, tool_choice={"type": "tool", "name": "submit"}
    ) as stream:
        final = stream.get_final_message()
    (block,) = final.content
    assert (block.type, block.name, block.input) == ("tool_use", "submit", data)
    assert final.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "BadRequestError"),
        (401, "AuthenticationError"),
        (403, "PermissionDeniedError"),
        (429, "RateLimitError"),
        (529, "OverloadedError"),
    ],
)
def test_error_statuses_are_typed_like_the_api(anthropic_server, client, status, error) -> None:
    anthropic_server.queue(Reply(status=status))
    with pytest.raises(getattr(anthropic, error)) as info:
        client.messages.create(**ASK)
    assert info.value.status_code == status
    assert info.value.body["type"] == "error"


def test_error_event_mid_stream(anthropic_server, client) -> None:
    anthropic_server.queue(Reply(text="x" * 50, chunk_chars=10, error_after=2))
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(**ASK) as stream,
    ):
        seen.extend(stream.text_stream)
    assert seen == ["x" * 10] * 2
    assert anthropic_server.completed == 1  # a clean end of the body, after the event


def test_cut_stream_is_a_connection_error(anthropic_server, client) -> None:
    anthropic_server.queue(Reply(text="x" * 100, chunk_chars=10, cut_after=3))
    with pytest.raises(anthropic.APIConnectionError), client.messages.stream(**ASK) as stream:
        list(stream.text_stream)
    assert anthropic_server.cut == 1
    assert anthropic_server.completed == 0


def test_refusal_and_max_tokens_stop_reasons(anthropic_server, client) -> None:
    anthropic_server.queue(Reply(text="I can't", stop_reason="refusal"))
    anthropic_server.queue(Reply(text='{"cut', stop_reason="max_tokens"))
    assert client.messages.create(**ASK).stop_reason == "refusal"
    with client.messages.stream(**ASK) as stream:
        assert stream.get_final_message().stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        ({k: v for k, v in ASK.items() if k != "max_tokens"}, {}, "max_tokens"),
        (ASK, {"anthropic-version": ""}, None),
        ({**ASK, "messages": [{"role": "system", "content": "S"}, *MESSAGES]}, {}, "system"),
        (
            {
                **ASK,
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "properties": {"minimum": {"minimum": 0}}},
                    }
                },
            },
            {},
            "minimum not supported",
        ),
    ],
)
def test_requests_the_api_refuses(anthropic_server, body, headers, message) -> None:
    if "anthropic-version" in headers:  # no version header at all
        answer = httpx.post(f"{anthropic_server.url}/v1/messages", json=body, timeout=10)
        message = "anthropic-version"
    else:
        answer = post(anthropic_server, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert message in answer.json()["error"]["message"]
    assert anthropic_server.requests == []  # refused before it was counted


def test_schema_keywords_are_not_confused_with_property_names(anthropic_server) -> None:
    schema = {"type": "object", "properties": {"minimum": {"type": "number"}}}
    fmt = {"format": {"type": "json_schema", "schema": schema}}
    assert post(anthropic_server, {**ASK, "output_config": fmt}).status_code == 200


def test_wrong_key_is_401(anthropic_server, client) -> None:
    anthropic_server.api_key = "right"
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(**ASK)
    assert post(anthropic_server, ASK, **{"x-api-key": "right"}).status_code == 200


def test_never_biting_limits_are_announced(anthropic_server, client) -> None:
    raw = client.messages.with_raw_response.create(**ASK)
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert int(raw.headers[f"anthropic-ratelimit-{kind}-limit"]) >= 10_000_000
        reset = parse_reset(raw.headers[f"anthropic-ratelimit-{kind}-reset"])
        assert reset is not None
        assert 0 <= reset <= 1


def test_rate_limit_window_with_rfc3339_resets(anthropic_server) -> None:
    anthropic_server.rate_limit = RateLimit(requests=3, window=0.5)
    answers = [post(anthropic_server, ASK) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["anthropic-ratelimit-requests-remaining"] for a in answers] == [
        "2",
        "1",
        "0",
        "0",
    ]
    over = answers[3]
    assert over.headers["anthropic-ratelimit-requests-limit"] == "3"
    assert over.headers["retry-after"] == "1"  # under half a second, rounded up
    assert over.json()["error"]["type"] == "rate_limit_error"
    reset = parse_reset(over.headers["anthropic-ratelimit-requests-reset"])
    assert reset is not None
    assert 0 <= reset <= 0.5
    assert anthropic_server.rejected == 1
    time.sleep(reset + 0.01)  # the window's end, as the header said
    assert post(anthropic_server, ASK).status_code == 200
    assert len(anthropic_server.admitted_times) == 4


def test_rate_limit_counts_input_and_output_tokens(anthropic_server) -> None:
    prompt = len(json.dumps([None, MESSAGES])) // 4
    anthropic_server.rate_limit = RateLimit(100, window=60, input_tokens=10_000, output_tokens=600)
    answers = [post(anthropic_server, ASK) for _ in range(3)]  # 256 output tokens each
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["anthropic-ratelimit-input-tokens-remaining"] == str(10_000 - prompt)
    assert answers[1].headers["anthropic-ratelimit-output-tokens-remaining"] == "88"
    assert answers[2].headers["anthropic-ratelimit-output-tokens-remaining"] == "0"
    assert answers[2].headers["anthropic-ratelimit-requests-remaining"] == "98"


@pytest.mark.parametrize(
    ("unix", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1.2341, "1970-01-01T00:00:01.235Z"),
        (59.9999, "1970-01-01T00:01:00.000Z"),
    ],
)
def test_rfc3339(unix: float, text: str) -> None:
    assert rfc3339(unix) == text
    assert parse_reset(text, now=0.0) == math.ceil(unix * 1000 - 1e-6) / 1000
