"""`LeadService`: qualify and keep. The HTTP layer calls this; it pairs each lead with its
outcome, stores both (off the event loop) and puts the stored ids on the result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from leadq.errors import InvalidLeadError
from leadq.qualifier import LeadQualifier
from leadq.schemas.lead import LeadInput
from leadq.schemas.result import LeadError, Outcome, PartialResult, QualificationResult
from leadq.storage.store import Store


def parse_each(raws: Sequence[Any]) -> list[LeadInput | LeadError]:
    """Each raw lead validated, or the error naming its field."""
    out: list[LeadInput | LeadError] = []
    for raw in raws:
        try:
            out.append(LeadInput.parse(raw))
        except InvalidLeadError as exc:
            lead_id = raw.get("lead_id") if isinstance(raw, dict) else None
            lead_id = lead_id.strip() or None if isinstance(lead_id, str) else None
            out.append(LeadError.from_exception(exc, lead_id))
    return out


class LeadService:
    """A qualifier and (optionally) a store."""

    def __init__(self, qualifier: LeadQualifier, store: Store | None) -> None:
        self.qualifier = qualifier
        self.store = store

    async def keep(self, pairs: Sequence[tuple[LeadInput | None, Outcome]]) -> None:
        """Store outcomes and the calls made for them; stamp the ids on the results."""
        calls = self.qualifier.drain_calls()
        if self.store is None or not (pairs or calls):
            return
        ids = await asyncio.to_thread(self.store.save, pairs, calls)
        for (_, outcome), (lead_ref, qid) in zip(pairs, ids, strict=True):
            if isinstance(outcome, QualificationResult):
                outcome.lead_ref, outcome.qualification_id = lead_ref, qid

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        try:
            result = await self.qualifier.qualify_lead_async(lead)
        except Exception:
            await self.keep([])  # the failed attempts still go to the call log
            raise
        await self.keep([(lead, result)])
        return result

    async def as_completed(self, raws: Sequence[Any]) -> AsyncIterator[tuple[int, Outcome]]:
        """`(index, outcome)` as each lead completes, each stored before it is yielded."""
        parsed = parse_each(raws)
        for i, item in enumerate(parsed):
            if isinstance(item, LeadError):
                yield i, item
        valid = [(i, p) for i, p in enumerate(parsed) if isinstance(p, LeadInput)]
        async for j, outcome in self.qualifier.qualify_leads_as_completed([p for _, p in valid]):
            index, lead = valid[j]
            await self.keep([(lead, outcome)])
            yield index, outcome

    async def batch(self, raws: Sequence[Any]) -> list[Outcome]:
        """One outcome per lead, in order, stored in one transaction."""
        parsed = parse_each(raws)
        valid = [p for p in parsed if isinstance(p, LeadInput)]
        results = iter(await self.qualifier.qualify_leads_batch_async(valid))
        outcomes: list[Outcome] = [p if isinstance(p, LeadError) else next(results) for p in parsed]
        await self.keep(
            [
                (p if isinstance(p, LeadInput) else None, o)
                for p, o in zip(parsed, outcomes, strict=True)
            ]
        )
        return outcomes

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        try:
            async for item in self.qualifier.stream_qualification(lead):
                if isinstance(item, QualificationResult):
                    await self.keep([(lead, item)])
                yield item
        except Exception:
            await self.keep([])
            raise
