"""Assemble the chain once per configuration:

    preprocess | assign(answer = prompt | model | parser) | postprocess

`assign` keeps the validated lead beside the model's answer, so postprocess can apply the
rules that depend on the input (missing facts) without a second pass.

The steps are small `Runnable` classes rather than LangChain's generic ones. The shape and
the streaming are the same; the plumbing is not: `RunnableLambda`, `ChatPromptTemplate` and
`RunnablePassthrough.assign` spend many times their steps' own work on signature inspection,
input validation, callback runs and extra tasks, for every lead. What is left is mostly the
two `RunnableSequence`s: the price of keeping the LCEL design (docs/decisions.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from leadq.chain.parse import Reply, StructuredAnswerParser
from leadq.chain.postprocess import Postprocess
from leadq.chain.preprocess import Preprocess
from leadq.chain.prompt import PromptStep, build_prompt, load_prompt
from leadq.core.policy import ResultContext
from leadq.core.profile import SellerProfile
from leadq.core.result import QualificationResult


class AssignAnswer(Runnable[dict[str, Any], dict[str, Any]]):
    """`RunnablePassthrough.assign(answer=inner)` without its `RunnableParallel`: the state
    with `answer` added; streaming, the state first and then `{"answer": ...}` per chunk of
    `inner`, as `assign` streams. Saves a task and a callback run for every lead."""

    name = "assign_answer"

    def __init__(self, inner: Runnable[dict[str, Any], Any]) -> None:
        self.inner = inner

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> dict[str, Any]:
        return {**input, "answer": self.inner.invoke(input, config)}

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> dict[str, Any]:
        return {**input, "answer": await self.inner.ainvoke(input, config)}

    def transform(
        self, input: Iterator[dict[str, Any]], config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[dict[str, Any]]:
        state: dict[str, Any] = {}
        for chunk in input:
            state.update(chunk)
        yield state
        for part in self.inner.stream(state, config):
            yield {"answer": part}

    async def atransform(
        self,
        input: AsyncIterator[dict[str, Any]],
        config: RunnableConfig | None = None,
        **kw: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        state: dict[str, Any] = {}
        async for chunk in input:
            state.update(chunk)
        yield state
        async for part in self.inner.astream(state, config):
            yield {"answer": part}

    def stream(  # type: ignore[override]
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[dict[str, Any]]:
        yield from self.transform(iter([input]), config)

    async def astream(  # type: ignore[override]
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> AsyncIterator[dict[str, Any]]:
        async def one() -> AsyncIterator[dict[str, Any]]:
            yield input

        async for chunk in self.atransform(one(), config):
            yield chunk


class ProfiledPostprocess(Postprocess):
    """`Postprocess` that records on each result the version of the seller profile whose
    offer the prompt carried."""

    def __init__(self, ctx: ResultContext, profile_version: str) -> None:
        super().__init__(ctx)
        self.profile_version = profile_version

    def _final(self, state: dict[str, Any]) -> QualificationResult:
        result = super()._final(state)
        result.profile_version = self.profile_version
        return result


def build_chain(
    model: Runnable[Any, Reply], method: str, ctx: ResultContext, profile: SellerProfile
) -> Runnable[Any, Any]:
    """The qualification chain for a model step that already asks for the structured answer
    (`providers.chat_api.ChatCompletions` with `answer_schema.request_extras`), scoring fit
    against `profile`'s offer."""
    prompt = PromptStep(build_prompt(load_prompt(ctx.prompt_version), method, profile.offer))
    return (
        Preprocess()
        | AssignAnswer(prompt | model | StructuredAnswerParser())
        | ProfiledPostprocess(ctx, profile.version)
    )
