"""Last step of the chain: the model's answer, parsed, through the result policy
(`core/policy.py`); streaming, each partial answer as a `PartialResult`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from leadq.core.policy import ResultContext, ceiling, finalize, partial_view
from leadq.core.result import QualificationResult
from leadq.core.screening.screen import screen


class Postprocess(Runnable[dict[str, Any], Any]):
    """Chain step: `{"lead", "missing", "t0", "answer": Draft}` -> result (or, streaming,
    partial results then the result)."""

    def __init__(self, ctx: ResultContext) -> None:
        self.ctx = ctx

    def _final(self, state: dict[str, Any]) -> QualificationResult:
        draft = state["answer"]
        return finalize(
            draft.data,
            state["lead"],
            state["missing"],
            self.ctx,
            usage=draft.usage,
            latency_ms=(time.perf_counter() - state["t0"]) * 1000,
        )

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any) -> Any:
        return self._final(input)

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> Any:
        return self._final(input)

    def _step(self, state: dict[str, Any], chunk: dict[str, Any]) -> Any:
        state.update(chunk)
        draft = chunk.get("answer")
        if draft is None:
            return None
        if draft.done:
            return self._final(state)
        if "caps" not in state:  # once per stream: None for a clean lead
            lead, ctx = state["lead"], self.ctx
            finding = screen(lead)
            state["caps"] = (
                None if finding is None else ceiling(lead, finding, ctx.icp_file, ctx.weights)
            )
        return partial_view(draft.data, state["missing"], self.ctx.weights, state["caps"])

    def transform(
        self, input: Iterator[dict[str, Any]], config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[Any]:
        state: dict[str, Any] = {}
        for chunk in input:
            if (out := self._step(state, chunk)) is not None:
                yield out

    async def atransform(
        self,
        input: AsyncIterator[dict[str, Any]],
        config: RunnableConfig | None = None,
        **kw: Any,
    ) -> AsyncIterator[Any]:
        state: dict[str, Any] = {}
        async for chunk in input:
            if (out := self._step(state, chunk)) is not None:
                yield out
