"""Third step's tail: read the model's message (or its stream of chunks) into a `Draft`, the
answer's JSON so far. Streams yield a fuller Draft each time a chunk adds to the parse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils.json import parse_partial_json

from leadq.errors import BadProviderAnswer
from leadq.schemas.result import Usage


@dataclass(slots=True)
class Draft:
    """The answer parsed so far. `done` marks the complete answer, with the call's metadata."""

    data: dict[str, Any]
    done: bool = False
    usage: Usage | None = None
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _strip_fence(text: str) -> str:
    """Drop a Markdown code fence some json_mode models wrap their answer in."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text


def _usage(msg: BaseMessage) -> Usage | None:
    meta = getattr(msg, "usage_metadata", None)
    if not meta:
        return None
    details = meta.get("input_token_details") or {}
    return Usage(
        input_tokens=meta.get("input_tokens", 0),
        output_tokens=meta.get("output_tokens", 0),
        total_tokens=meta.get("total_tokens", 0),
        cached_tokens=details.get("cache_read", 0) or 0,
    )


class _Accumulator:
    """Collects the answer text and metadata from a message or its chunks."""

    def __init__(self, from_tool: bool) -> None:
        self.from_tool = from_tool
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.headers: dict[str, str] = {}

    def add(self, msg: BaseMessage) -> bool:
        """Take one message or chunk; True when it added answer text."""
        meta = msg.response_metadata or {}
        if meta.get("finish_reason"):
            self.finish_reason = meta["finish_reason"]
        if meta.get("headers") and not self.headers:
            self.headers = dict(meta["headers"])
        if (usage := _usage(msg)) is not None:
            self.usage = usage
        before = len(self.parts)
        if self.from_tool:
            for call in getattr(msg, "tool_call_chunks", None) or []:
                if call.get("args"):
                    self.parts.append(call["args"])
            if not getattr(msg, "tool_call_chunks", None):
                for call in getattr(msg, "tool_calls", None) or []:
                    self.parts.append(json.dumps(call.get("args", {})))
        elif isinstance(msg.content, str) and msg.content:
            self.parts.append(msg.content)
        return len(self.parts) > before

    def text(self) -> str:
        return "".join(self.parts)

    def final(self) -> Draft:
        text = _strip_fence(self.text())
        if not text:
            if self.finish_reason == "length":
                raise BadProviderAnswer(
                    "the model used its whole max_completion_tokens budget before answering; "
                    "raise LEADQ_MAX_COMPLETION_TOKENS or lower LEADQ_REASONING_EFFORT"
                )
            raise BadProviderAnswer("the model returned an empty answer")
        try:
            data = json.loads(text)
        except ValueError:
            cut = " (cut at max_completion_tokens)" if self.finish_reason == "length" else ""
            raise BadProviderAnswer(f"the model's answer is not valid JSON{cut}") from None
        if not isinstance(data, dict):
            raise BadProviderAnswer("the model's answer is JSON but not an object")
        return Draft(data, True, self.usage, self.finish_reason, self.headers)


class StructuredAnswerParser(Runnable[BaseMessage, Draft]):
    """Parses the answer from message content (json_schema, json_mode) or from the forced tool
    call's arguments (function_calling); streaming, yields partial Drafts as JSON arrives."""

    def __init__(self, from_tool: bool) -> None:
        self.from_tool = from_tool

    def invoke(self, input: BaseMessage, config: RunnableConfig | None = None, **kw: Any) -> Draft:
        acc = _Accumulator(self.from_tool)
        acc.add(input)
        return acc.final()

    async def ainvoke(
        self, input: BaseMessage, config: RunnableConfig | None = None, **kw: Any
    ) -> Draft:
        return self.invoke(input, config)

    def _partial(self, acc: _Accumulator, last: dict[str, Any] | None) -> dict[str, Any] | None:
        parsed = parse_partial_json(_strip_fence(acc.text()))
        if isinstance(parsed, dict) and parsed and parsed != last:
            return parsed
        return None

    def transform(
        self, input: Iterator[BaseMessage], config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[Draft]:
        acc, last = _Accumulator(self.from_tool), None
        for chunk in input:
            if acc.add(chunk) and (partial := self._partial(acc, last)) is not None:
                last = partial
                yield Draft(partial)
        yield acc.final()

    async def atransform(
        self,
        input: AsyncIterator[BaseMessage],
        config: RunnableConfig | None = None,
        **kw: Any,
    ) -> AsyncIterator[Draft]:
        acc, last = _Accumulator(self.from_tool), None
        async for chunk in input:
            if acc.add(chunk) and (partial := self._partial(acc, last)) is not None:
                last = partial
                yield Draft(partial)
        yield acc.final()

    def stream(self, input: BaseMessage, config: RunnableConfig | None = None, **kw: Any):  # type: ignore[override]
        yield from self.transform(iter([input]), config)

    async def astream(self, input: BaseMessage, config: RunnableConfig | None = None, **kw: Any):  # type: ignore[override]
        async def one() -> AsyncIterator[BaseMessage]:
            yield input

        async for draft in self.atransform(one(), config):
            yield draft
