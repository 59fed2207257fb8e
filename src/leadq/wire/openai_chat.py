"""The OpenAI-compatible chat-completions API (Cerebras, OpenAI, Groq, a local server) as the
model step of the chain: one POST over aiohttp, answered whole or as a server-sent stream.

Why not `ChatOpenAI`: leadq prebuilds the request (`answer_schema.request_extras`), retries,
paces and parses on its own, so `ChatOpenAI` and the OpenAI SDK under it added work without
adding behaviour: the SDK's request building, httpx and `ChatOpenAI`'s thread-pool hop were
most of leadq's CPU a lead. It is the same link of the same LCEL chain (`prompt | model |
parser`), with streaming, and speaks the same wire format. The measurements behind this are
in docs/decisions.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from langchain_core.prompt_values import PromptValue

from leadq.chain.answer_schema import request_extras
from leadq.chain.parse import Reply
from leadq.core.errors import BadProviderAnswer, ProviderUnavailable
from leadq.core.result import Usage
from leadq.wire.step import CallShape, ModelStep, ProviderHTTPError, env_proxy, next_line

__all__ = ["ChatCompletions", "ProviderHTTPError", "env_proxy", "read_completion", "read_event"]

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        total_tokens=raw.get("total_tokens") or 0,
        cached_tokens=(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )


def _text(part: dict[str, Any], from_tool: bool) -> str:
    """The answer text of a message or a stream delta: the tool call's arguments when the
    answer was asked for as a tool call (content, if a provider put it there instead)."""
    if from_tool:
        for call in part.get("tool_calls") or ():
            args = (call.get("function") or {}).get("arguments")
            if args:
                return args if isinstance(args, str) else json.dumps(args)
    content = part.get("content")
    return content if isinstance(content, str) else ""


def read_completion(raw: bytes, from_tool: bool) -> Reply:
    """A whole (non-streamed) chat completion."""
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
        return Reply(
            _text(message, from_tool), choice.get("finish_reason"), _usage(data.get("usage"))
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BadProviderAnswer(
            f"the provider's answer is not a chat completion: {raw[:120]!r}"
        ) from None


def read_event(payload: bytes, from_tool: bool) -> Reply:
    """One `data:` event of a streamed chat completion."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise BadProviderAnswer(
            f"the provider's stream sent a non-JSON event: {payload[:120]!r}"
        ) from None
    if not isinstance(data, dict):
        raise BadProviderAnswer(
            f"the provider's stream sent an unexpected event: {payload[:120]!r}"
        )
    if data.get("error"):  # some providers report a failure mid-stream this way
        raise ProviderUnavailable(f"the provider failed mid-answer: {str(data['error'])[:200]}")
    reply = Reply(usage=_usage(data.get("usage")))
    choices = data.get("choices")
    if choices and isinstance(choices[0], dict):
        reply.text = _text(choices[0].get("delta") or {}, from_tool)
        reply.finish_reason = choices[0].get("finish_reason")
    return reply


class ChatCompletions(ModelStep):
    """`POST {base_url}/chat/completions` as a chain step: prompt in, `Reply` out, or a stream
    of `Reply` chunks. The request's constant part (model, settings, answer schema) is
    serialized once; per call only the messages are."""

    name = "chat_completions"
    path = "/chat/completions"
    _whole = b"}"
    _stream = b',"stream":true,"stream_options":{"include_usage":true}}'

    @classmethod
    def api_headers(cls, api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    @classmethod
    def request_fields(cls, call: CallShape) -> dict[str, Any]:
        """Model, sampling, the answer budget (in the field the provider reads) and the
        structured-output fields (`answer_schema.request_extras`)."""
        fields: dict[str, Any] = {"model": call.model}
        if call.temperature is not None:
            fields["temperature"] = call.temperature
        fields[call.info.max_tokens_field] = call.max_tokens
        if call.reasoning_effort:
            fields["reasoning_effort"] = call.reasoning_effort
        return {**fields, **request_extras(call.method)}

    def body(self, prompt: PromptValue, stream: bool = False) -> bytes:
        messages = [
            {"role": ROLES.get(m.type, m.type), "content": m.content} for m in prompt.to_messages()
        ]
        text = json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()
        return self._head + b'"messages":' + text + (self._stream if stream else self._whole)

    def read_whole(self, raw: bytes) -> Reply:
        return read_completion(raw, self.from_tool)

    async def read_stream(self, content: aiohttp.StreamReader) -> AsyncIterator[Reply]:
        finished = False
        while line := await next_line(content):
            if not line.startswith(b"data:"):
                continue  # blank lines, comments, `event:` and `id:` fields
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return
            reply = read_event(payload, self.from_tool)
            finished = finished or reply.finish_reason is not None
            yield reply
        if not finished:
            raise ProviderUnavailable("the provider's stream ended before the answer did")
