"""Anthropic's Messages API (Claude) as the model step of the chain: one POST to
`{base_url}/v1/messages` over aiohttp, answered whole or as a server-sent stream of typed
events (`message_start`, `content_block_delta`, `message_delta`, `message_stop`, `ping`,
`error`).

The answer is asked for in structure, never by the prompt alone: as JSON text matching the
answer schema (`output_config.format`, method `json_schema`), or as the input of a strict
tool the model is made to call (`function_calling`). The system prompt goes in the top-level
`system` field. A stop for any reason but a finished answer (`refusal`, `max_tokens`) is the
lead's error, not a result. Own code rather than the `anthropic` SDK, as for chat
completions: docs/decisions.md has the measurement.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from langchain_core.prompt_values import PromptValue

from leadq.chain.answer_schema import ANSWER_NAME, ANSWER_TOOL, schema_without
from leadq.chain.parse import Reply
from leadq.core.errors import (
    BadProviderAnswer,
    LeadqError,
    ProviderNotConfigured,
    ProviderUnavailable,
    RateLimited,
)
from leadq.core.result import Usage
from leadq.wire.step import CallShape, ModelStep, data_lines

API_VERSION = "2023-06-01"  # the `anthropic-version` this module writes and reads
ROLES = {"human": "user", "ai": "assistant"}
# Stop reasons of a finished answer; any other ends the lead in an error (`stop_error`).
FINISHED = frozenset({"end_turn", "tool_use", "stop_sequence"})


def stop_error(stop_reason: str | None, text: str) -> LeadqError | None:
    """The lead's error for an answer that stopped for `stop_reason` (None if finished).
    A refusal or a cut answer is asked once more (`BadProviderAnswer` is retried once, the
    cut answer shown back to the model), then it is the lead's error."""
    if stop_reason is None or stop_reason in FINISHED:
        return None
    if stop_reason == "refusal":
        return BadProviderAnswer("the model refused to qualify this lead (stop_reason: refusal)")
    if stop_reason == "max_tokens":
        return BadProviderAnswer(
            "the model used its whole max_tokens budget before finishing its answer "
            "(stop_reason: max_tokens); raise LEADQ_MAX_COMPLETION_TOKENS",
            answer=text or None,
        )
    return BadProviderAnswer(f"the model stopped before finishing its answer ({stop_reason})")


def _usage(raw: Any) -> Usage | None:
    """Tokens as leadq counts them: input tokens include those read from or written to the
    prompt cache (Anthropic counts them apart), and `cached_tokens` are those read."""
    if not isinstance(raw, dict):
        return None
    cached = raw.get("cache_read_input_tokens") or 0
    prompt = (raw.get("input_tokens") or 0) + cached + (raw.get("cache_creation_input_tokens") or 0)
    completion = raw.get("output_tokens") or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=cached,
    )


def read_message(raw: bytes, from_tool: bool) -> Reply:
    """A whole (non-streamed) message: its text, or the forced tool call's input."""
    try:
        data = json.loads(raw)
        blocks = data["content"]
        stop_reason = data.get("stop_reason")
        text = _answer_text(blocks, from_tool)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BadProviderAnswer(f"the provider's answer is not a message: {raw[:120]!r}") from None
    if (err := stop_error(stop_reason, text)) is not None:
        raise err
    return Reply(text, stop_reason, _usage(data.get("usage")))


def _answer_text(blocks: list[dict[str, Any]], from_tool: bool) -> str:
    """The tool call's input when the answer was asked for as one (the text, if the model
    answered in text instead), else the text blocks joined."""
    if from_tool:
        for block in blocks:
            if block["type"] == "tool_use":
                value = block["input"]
                return value if isinstance(value, str) else json.dumps(value)
    return "".join(b["text"] for b in blocks if b["type"] == "text")


@dataclass(slots=True)
class StreamState:
    """What a stream has said so far that a later event needs: the input usage (from
    `message_start`), the answer text (for a cut answer's repair) and whether it ended."""

    input_usage: dict[str, Any] | None = None
    parts: list[str] = field(default_factory=list)
    stopped: bool = False  # `message_stop` came


def read_event(payload: bytes, from_tool: bool, state: StreamState) -> Reply | None:
    """One `data:` event of a streamed message: a chunk of the answer, the stop reason and
    usage (`message_delta`), or None for an event that carries neither."""
    try:
        data = json.loads(payload)
        kind = data["type"]
    except (ValueError, KeyError, TypeError):
        raise BadProviderAnswer(
            f"the provider's stream sent an unexpected event: {payload[:120]!r}"
        ) from None
    if kind == "content_block_delta":
        delta = data.get("delta") or {}
        want = "input_json_delta" if from_tool else "text_delta"
        if delta.get("type") != want:
            return None  # thinking, signatures, citations, or the other kind of answer
        text = delta.get("partial_json" if from_tool else "text") or ""
        state.parts.append(text)
        return Reply(text)
    if kind == "message_start":
        state.input_usage = (data.get("message") or {}).get("usage")
        return None
    if kind == "message_delta":
        stop_reason = (data.get("delta") or {}).get("stop_reason")
        if (err := stop_error(stop_reason, "".join(state.parts))) is not None:
            raise err
        # Its counts are cumulative: they update those of `message_start`.
        counts = {k: v for k, v in (data.get("usage") or {}).items() if v is not None}
        usage = _usage({**(state.input_usage or {}), **counts})
        return Reply(finish_reason=stop_reason, usage=usage)
    if kind == "message_stop":
        state.stopped = True
        return None
    if kind == "error":
        raise _stream_error(data.get("error"))
    return None  # ping, content_block_start / _stop, and event types added later


def _stream_error(error: Any) -> LeadqError:
    """An `error` event: the provider failed after the answer had begun (e.g. overloaded)."""
    kind = error.get("type") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    text = f"the provider failed mid-answer: {kind or 'error'}: {str(message)[:200]}"
    return RateLimited(text) if kind == "rate_limit_error" else ProviderUnavailable(text)


class AnthropicMessages(ModelStep):
    """`POST {base_url}/v1/messages` as a chain step: prompt in, `Reply` out, or a stream of
    `Reply` chunks (the answer's text or the tool input's JSON, as it arrives)."""

    name = "anthropic_messages"
    path = "/v1/messages"
    _whole = b"}"
    _stream = b',"stream":true}'

    @classmethod
    def api_headers(cls, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    @classmethod
    def request_fields(cls, call: CallShape) -> dict[str, Any]:
        """Model, the answer budget (`max_tokens`, which the API requires), temperature
        unless the model refuses it, the answer schema less the keywords the provider's
        structured output refuses, and LEADQ_REASONING_EFFORT, when set, as
        `output_config.effort` (Claude's name for it; a model that does not take it answers
        400, which names the field)."""
        schema = schema_without(call.info.schema_unsupported)
        fields: dict[str, Any] = {"model": call.model, "max_tokens": call.max_tokens}
        if call.temperature is not None:
            fields["temperature"] = call.temperature
        if call.method == "json_schema":
            fields["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        elif call.method == "function_calling":
            description = ANSWER_TOOL["function"]["description"]
            tool = {
                "name": ANSWER_NAME,
                "description": description,
                "input_schema": schema,
                "strict": True,
            }
            fields["tools"] = [tool]
            fields["tool_choice"] = {"type": "tool", "name": ANSWER_NAME}
        else:
            raise ProviderNotConfigured(
                f"LEADQ_STRUCTURED_OUTPUT={call.method}: {call.info.name} answers in structure "
                "with json_schema (output_config.format, the default) or function_calling (a "
                "strict tool); a prompt alone does not make its answer JSON"
            )
        if call.reasoning_effort:
            fields.setdefault("output_config", {})["effort"] = call.reasoning_effort
        return fields

    def body(self, prompt: PromptValue, stream: bool = False) -> bytes:
        """The fields, then the system text apart (the API's `system`) and the turns."""
        system: list[str] = []
        messages = []
        for m in prompt.to_messages():
            if m.type == "system":
                system.append(str(m.content))
            else:
                messages.append({"role": ROLES.get(m.type, m.type), "content": m.content})
        head = self._head
        if system:
            text = json.dumps("\n\n".join(system), ensure_ascii=False)
            head += b'"system":' + text.encode() + b","
        turns = json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()
        return head + b'"messages":' + turns + (self._stream if stream else self._whole)

    def read_whole(self, raw: bytes) -> Reply:
        return read_message(raw, self.from_tool)

    async def read_stream(self, content: aiohttp.StreamReader) -> AsyncIterator[Reply]:
        state = StreamState()
        async for payload in data_lines(content):  # `data` names the event too
            reply = read_event(payload, self.from_tool, state)
            if reply is not None:
                yield reply
        if not state.stopped:
            raise ProviderUnavailable("the provider's stream ended before the answer did")
