"""Third step's tail: read the model's answer (or its stream of chunks) into a `Draft`, the
answer's JSON so far. Streams yield a fuller Draft each time a chunk adds to the parse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils.json import parse_partial_json

from leadq.core.errors import BadProviderAnswer
from leadq.core.result import Usage


@dataclass(slots=True)
class Reply:
    """A whole answer, or one chunk of a streamed one: the answer's text (message content,
    or the forced tool call's arguments), and the metadata that came with it."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(slots=True)
class Draft:
    """The answer parsed so far. `done` marks the complete answer, with the call's metadata."""

    data: dict[str, Any]
    done: bool = False
    usage: Usage | None = None
    finish_reason: str | None = None


def _strip_fence(text: str) -> str:
    """Drop a Markdown code fence some json_mode models wrap their answer in."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text


class _Accumulator:
    """Collects the answer text and metadata from an answer or its chunks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def add(self, reply: Reply) -> bool:
        """Take one answer or chunk; True when it added answer text."""
        if reply.finish_reason:
            self.finish_reason = reply.finish_reason
        if reply.usage is not None:
            self.usage = reply.usage
        if reply.text:
            self.parts.append(reply.text)
            return True
        return False

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
            # strict=False: a raw newline or tab inside a string is taken as written (llama.cpp
            # servers' grammars let them through), as the partial parser already takes it.
            data = json.loads(text, strict=False)
        except ValueError:
            cut = " (cut at max_completion_tokens)" if self.finish_reason == "length" else ""
            raise BadProviderAnswer(
                f"the model's answer is not valid JSON{cut}", answer=text
            ) from None
        if not isinstance(data, dict):
            raise BadProviderAnswer("the model's answer is JSON but not an object", answer=text)
        return Draft(data, True, self.usage, self.finish_reason)


class StructuredAnswerParser(Runnable[Reply, Draft]):
    """Parses the model's answer text (message content or tool-call arguments, whichever the
    structured-output method asked for); streaming, yields partial Drafts as JSON arrives."""

    def invoke(self, input: Reply, config: RunnableConfig | None = None, **kw: Any) -> Draft:
        acc = _Accumulator()
        acc.add(input)
        return acc.final()

    async def ainvoke(self, input: Reply, config: RunnableConfig | None = None, **kw: Any) -> Draft:
        return self.invoke(input, config)

    def _partial(self, acc: _Accumulator, last: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            parsed = parse_partial_json(_strip_fence(acc.text()))
        except ValueError:  # not the start of JSON (prose, a refusal): the end says what it is
            return None
        if isinstance(parsed, dict) and parsed and parsed != last:
            return parsed
        return None

    def transform(
        self, input: Iterator[Reply], config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[Draft]:
        acc, last = _Accumulator(), None
        for chunk in input:
            if acc.add(chunk) and (partial := self._partial(acc, last)) is not None:
                last = partial
                yield Draft(partial)
        yield acc.final()

    async def atransform(
        self,
        input: AsyncIterator[Reply],
        config: RunnableConfig | None = None,
        **kw: Any,
    ) -> AsyncIterator[Draft]:
        acc, last = _Accumulator(), None
        async for chunk in input:
            if acc.add(chunk) and (partial := self._partial(acc, last)) is not None:
                last = partial
                yield Draft(partial)
        yield acc.final()

    def stream(self, input: Reply, config: RunnableConfig | None = None, **kw: Any):  # type: ignore[override]
        yield from self.transform(iter([input]), config)

    async def astream(self, input: Reply, config: RunnableConfig | None = None, **kw: Any):  # type: ignore[override]
        async def one() -> AsyncIterator[Reply]:
            yield input

        async for draft in self.atransform(one(), config):
            yield draft
