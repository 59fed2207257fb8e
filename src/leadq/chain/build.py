"""Assemble the chain once per configuration:

    preprocess | assign(answer = prompt | model | parser) | postprocess

`assign` keeps the validated lead beside the model's answer, so postprocess can apply the
rules that depend on the input (missing facts) without a second pass."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from leadq.chain.parse import StructuredAnswerParser
from leadq.chain.postprocess import Postprocess, ResultContext
from leadq.chain.preprocess import apreprocess, preprocess
from leadq.chain.prompt import build_prompt, load_prompt


def build_chain(
    model: BaseChatModel | Runnable, method: str, ctx: ResultContext
) -> Runnable[Any, Any]:
    """The qualification chain for a chat model already bound to its structured-output
    request fields (see `answer_schema.request_extras`)."""
    prompt = build_prompt(load_prompt(ctx.prompt_version), method)
    parser = StructuredAnswerParser(from_tool=method == "function_calling")
    return (
        RunnableLambda(preprocess, afunc=apreprocess, name="preprocess")
        | RunnablePassthrough.assign(answer=prompt | model | parser)
        | Postprocess(ctx)
    )
