"""`CerebrasLeadQualifier` and `get_qualifier`: the original design's Python API over leadq, so
its code runs with one import line changed. Results are plain dicts with the original keys
(plus leadq's: provider, model, flags, usage, cost...); bad input raises `ValueError`
(`InvalidLeadError` is one); a failed lead in a batch is an error dict in its place. The
typed API is `LeadQualifier` (`get_lead_qualifier()` for the process-wide one)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel

from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.result import PartialResult, ResultOrError
from leadq.qualifier import LeadQualifier, get_lead_qualifier


def as_lead(lead: Any) -> Any:
    """A lead as the typed API takes it: leadq's `LeadInput` as it is, any other pydantic
    model (the original `LeadQualificationInput`) or mapping as a dict; anything else is
    passed on, to be refused with an error naming it."""
    if isinstance(lead, LeadInput):
        return lead
    if isinstance(lead, BaseModel):
        return lead.model_dump()
    if isinstance(lead, Mapping):
        return dict(lead)
    return lead


def as_dict(outcome: ResultOrError | PartialResult) -> dict[str, Any]:
    """A result, a lead's error (`{"error": code, "message": ..., "retryable": ...}`) or a
    partial result's fields, as JSON-ready dict."""
    if isinstance(outcome, PartialResult):
        return dict(outcome.fields)
    return outcome.model_dump(mode="json")


class SeedChain(Runnable[Any, dict[str, Any]]):
    """The original design's `qualifier.chain`: a LangChain runnable from a lead (dict or
    model) to its result dict, over the whole of leadq (validation, policies, retries,
    cache...), not the bare model call. `invoke`/`ainvoke` raise like `qualify_lead`;
    `batch`, `abatch` and `abatch_as_completed` are LangChain's own over them (with
    `config={"max_concurrency": N}` and `return_exceptions`); `astream` yields the partial
    results as the model's tokens arrive, the full result last."""

    def __init__(self, qualifier: CerebrasLeadQualifier) -> None:
        self.qualifier = qualifier

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self.qualifier.qualify_lead(input)

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await self.qualifier.qualify_lead_async(input)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        async with aclosing(self.qualifier.stream_qualification(input)) as items:
            async for item in items:
                yield item


class CerebrasLeadQualifier:
    """The original qualifier's methods, on whichever provider leadq is configured for
    (`LEADQ_PROVIDER`: cerebras, openai, rules...), answering dicts; `chain` is the original's
    LCEL entry point (`SeedChain`)."""

    def __init__(
        self, settings: Settings | None = None, *, qualifier: LeadQualifier | None = None
    ) -> None:
        self.qualifier = qualifier or LeadQualifier(settings)
        self.chain = SeedChain(self)

    def __repr__(self) -> str:
        return f"CerebrasLeadQualifier({self.qualifier!r})"

    # ---- sync -----------------------------------------------------------------------------

    def qualify_lead(self, lead_data: Any) -> dict[str, Any]:
        """One lead's result. Raises `ValueError` for bad input, leadq's provider errors
        (`ProviderTimeout`, `RateLimited`...) when no answer could be had."""
        return as_dict(self.qualifier.qualify_lead(as_lead(lead_data)))

    def qualify_leads_batch(
        self, leads: Sequence[Any], max_concurrency: int | None = None
    ) -> list[dict[str, Any]]:
        """One dict per lead, in order: its result, or its error dict."""
        outcomes = self.qualifier.qualify_leads_batch([as_lead(x) for x in leads], max_concurrency)
        return [as_dict(o) for o in outcomes]

    # ---- async ----------------------------------------------------------------------------

    async def qualify_lead_async(self, lead_data: Any) -> dict[str, Any]:
        """`qualify_lead`, awaitable."""
        return as_dict(await self.qualifier.qualify_lead_async(as_lead(lead_data)))

    async def qualify_leads_batch_async(
        self, leads: Sequence[Any], max_concurrency: int | None = None
    ) -> list[dict[str, Any]]:
        """`qualify_leads_batch`, awaitable; `max_concurrency` defaults to
        LEADQ_MAX_CONCURRENCY."""
        outcomes = await self.qualifier.qualify_leads_batch_async(
            [as_lead(x) for x in leads], max_concurrency
        )
        return [as_dict(o) for o in outcomes]

    async def qualify_leads_as_completed(
        self, leads: Sequence[Any], max_concurrency: int | None = None
    ) -> AsyncIterator[tuple[int, dict[str, Any]]]:
        """`(index, result or error dict)` for each lead as it completes."""
        outcomes = self.qualifier.qualify_leads_as_completed(
            [as_lead(x) for x in leads], max_concurrency
        )
        async with aclosing(outcomes):  # stopping early cancels the calls still in flight
            async for index, outcome in outcomes:
                yield index, as_dict(outcome)

    async def stream_qualification(self, lead_data: Any) -> AsyncGenerator[dict[str, Any]]:
        """Dicts of the fields the model has produced so far, as its tokens arrive; the last
        one is the full result. Raises like `qualify_lead`."""
        items = self.qualifier.stream_qualification(as_lead(lead_data))
        async with aclosing(items):
            async for item in items:
                yield as_dict(item)

    def close(self) -> None:
        """Release HTTP clients and the sync API's thread (also done at interpreter exit)."""
        self.qualifier.close()


_instance: CerebrasLeadQualifier | None = None


def get_qualifier() -> CerebrasLeadQualifier:
    """The process-wide `CerebrasLeadQualifier`, over the process-wide `LeadQualifier`."""
    global _instance
    if _instance is None:
        _instance = CerebrasLeadQualifier(qualifier=get_lead_qualifier())
    return _instance
