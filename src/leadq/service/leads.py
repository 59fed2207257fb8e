"""`LeadService`: qualify and keep. The HTTP layer calls this; it pairs each lead with its
outcome, stores both (off the event loop) and puts the stored ids on the result. Leads whose
identical input was qualified within `LEADQ_CACHE_TTL` get the stored result (`cached: true`)
without a provider call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from leadq.backends.budget import day_start, utc_today
from leadq.core.errors import InvalidLeadError
from leadq.core.identity import CacheScope
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, PartialResult, QualificationResult, ResultOrError
from leadq.observability.events import observe_failure, observe_results
from leadq.observability.metrics import count_cache
from leadq.qualifier import LeadQualifier
from leadq.storage.cache import ResultCache
from leadq.storage.store import Store


def seed_budget(qualifier: LeadQualifier, store: Store) -> None:
    """Start the daily budget guard (if any) from what the call log says was spent today."""
    qualifier.backend.seed_spend(store.spend_since(day_start(utc_today())))


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
    """A qualifier and (optionally) a store and a result cache."""

    def __init__(
        self, qualifier: LeadQualifier, store: Store | None, cache: ResultCache | None = None
    ) -> None:
        self.qualifier = qualifier
        self.store = store
        self.cache = cache if cache is not None and cache.enabled else None

    def _scope(self, lead: LeadInput) -> CacheScope | None:
        return self.qualifier.backend.cache_scope(lead)

    async def cached(self, leads: Sequence[LeadInput]) -> list[QualificationResult | None]:
        """Each lead's cached result, or None (always None without a cache or for a local
        backend, which is faster than the lookup)."""
        scopes = [self._scope(lead) for lead in leads]
        if self.cache is None or not leads or all(scope is None for scope in scopes):
            return [None] * len(leads)
        wanted = [(lead, scope) for lead, scope in zip(leads, scopes, strict=True) if scope]
        hits = iter(await asyncio.to_thread(self.cache.lookup, wanted))
        out = [next(hits) if scope else None for scope in scopes]
        for lead, hit in zip(leads, out, strict=True):
            count_cache(hit is not None)
            if hit is not None:
                observe_results([(lead, hit)], self.qualifier.settings.log_pii)
        return out

    async def _share(self, pairs: Sequence[tuple[LeadInput | None, ResultOrError]]) -> None:
        """Offer fresh results to the shared (Redis) cache."""
        if self.cache is None or self.cache.redis is None:
            return
        items = []
        for lead, outcome in pairs:
            if lead is not None and isinstance(outcome, QualificationResult):
                scope = self._scope(lead)
                if scope == (outcome.provider, outcome.model, outcome.prompt_version):
                    items.append((lead, scope, outcome))
        if items:
            await asyncio.to_thread(self.cache.remember, items)

    async def keep(self, pairs: Sequence[tuple[LeadInput | None, ResultOrError]]) -> None:
        """Store outcomes and the calls made for them; stamp the ids on the results."""
        calls = self.qualifier.drain_calls()
        if self.store is None or not (pairs or calls):
            return
        ids = await asyncio.to_thread(self.store.save, pairs, calls)
        for (_, outcome), (lead_ref, qid) in zip(pairs, ids, strict=True):
            if isinstance(outcome, QualificationResult):
                outcome.lead_ref, outcome.qualification_id = lead_ref, qid
        await self._share(pairs)
        observe_results(pairs, self.qualifier.settings.log_pii)  # metrics, one event per lead

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        (hit,) = await self.cached([lead])
        if hit is not None:
            return hit
        try:
            result = await self.qualifier.qualify_lead_async(lead)
        except Exception as exc:
            observe_failure(lead, exc, self.qualifier.settings.log_pii)
            await self.keep([])  # the failed attempts still go to the call log
            raise
        await self.keep([(lead, result)])
        return result

    async def as_completed(self, raws: Sequence[Any]) -> AsyncIterator[tuple[int, ResultOrError]]:
        """`(index, outcome)` as each lead completes, each stored before it is yielded."""
        parsed = parse_each(raws)
        for i, item in enumerate(parsed):
            if isinstance(item, LeadError):
                yield i, item
        valid = [(i, p) for i, p in enumerate(parsed) if isinstance(p, LeadInput)]
        hits = await self.cached([p for _, p in valid])
        for (i, _), hit in zip(valid, hits, strict=True):
            if hit is not None:
                yield i, hit
        valid = [v for v, hit in zip(valid, hits, strict=True) if hit is None]
        async for j, outcome in self.qualifier.qualify_leads_as_completed([p for _, p in valid]):
            index, lead = valid[j]
            await self.keep([(lead, outcome)])
            yield index, outcome

    async def batch(self, raws: Sequence[Any]) -> list[ResultOrError]:
        """One outcome per lead, in order, stored in one transaction."""
        parsed = parse_each(raws)
        valid = [p for p in parsed if isinstance(p, LeadInput)]
        hits = await self.cached(valid)
        misses = [p for p, hit in zip(valid, hits, strict=True) if hit is None]
        fresh = iter(await self.qualifier.qualify_leads_batch_async(misses))
        found = iter(hits)
        outcomes: list[ResultOrError] = []
        kept: list[tuple[LeadInput | None, ResultOrError]] = []
        for p in parsed:
            if isinstance(p, LeadError):
                outcomes.append(p)
                kept.append((None, p))
            elif (hit := next(found)) is not None:
                outcomes.append(hit)  # stored already: not stored again
            else:
                outcome = next(fresh)
                outcomes.append(outcome)
                kept.append((p, outcome))
        await self.keep(kept)
        return outcomes

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        (hit,) = await self.cached([lead])
        if hit is not None:
            yield hit
            return
        try:
            async for item in self.qualifier.stream_qualification(lead):
                if isinstance(item, QualificationResult):
                    await self.keep([(lead, item)])
                yield item
        except Exception as exc:
            observe_failure(lead, exc, self.qualifier.settings.log_pii)
            await self.keep([])
            raise
