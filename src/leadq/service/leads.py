"""`LeadService`: the path of every lead, whoever sent it. `pipeline` takes parsed leads
through the cache and the qualifier; `keep` stores what came out (off the event loop) and
puts the stored ids on the results; the HTTP routes call `qualify`, `stream`, `batch` and
`as_completed`, and a job (`service/jobs.py`) runs the same `pipeline` with its rows. Leads
whose identical input was qualified within `LEADQ_CACHE_TTL` get the stored result
(`cached: true`) without a provider call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from typing import Any, cast

from leadq.backends.budget import day_start, utc_today
from leadq.core.calls import CallAttempt
from leadq.core.errors import InvalidLeadError, StorageUnavailable
from leadq.core.identity import CacheScope
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, PartialResult, QualificationResult, ResultOrError
from leadq.observability.events import observe_failure, observe_results
from leadq.observability.metrics import count_cache, count_unstored
from leadq.qualifier import LeadQualifier
from leadq.storage.cache import ResultCache
from leadq.storage.db import is_outage
from leadq.storage.store import Store

log = logging.getLogger("leadq.service")


def seed_budget(qualifier: LeadQualifier, store: Store) -> None:
    """Start the daily budget guard (if any) from what the call log says was spent today."""
    qualifier.backend.seed_spend(store.spend_since(day_start(utc_today())))


def _save_or_return_calls(
    store: Store,
    qualifier: LeadQualifier,
    pairs: Sequence[tuple[LeadInput | None, ResultOrError]],
    calls: Sequence[CallAttempt],
) -> list[tuple[int | None, int | None]]:
    """`store.save`, on the store's thread. If the database is away, the calls go back to
    the qualifier for the next save (the results are the caller's to return); if they
    cannot be stored at all, they are dropped and logged, so one bad row never blocks every
    later save."""
    try:
        return store.save(pairs, calls)
    except Exception as exc:
        if is_outage(exc):
            qualifier.return_calls(calls)
        else:
            log.error("call log: %d attempt(s) dropped: %s", len(calls), type(exc).__name__)
        raise


class CallRecorder:
    """Stores each provider call attempt as it completes (a few at a time when they come
    together), so that the call log, the stats and the daily budget see the spend even if
    the process dies mid-batch. One per server process, on its event loop; `aclose` stores
    what is left. While the database is away, attempts wait in memory and are tried again."""

    RETRY_SECONDS = 2.0

    def __init__(self, qualifier: LeadQualifier, store: Store) -> None:
        self.qualifier = qualifier
        self.store = store
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        qualifier.on_call(self.wake)

    def wake(self) -> None:
        """An attempt was kept: make sure a flush is coming (callable from any thread)."""
        self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._flush())

    async def _flush(self, *, retry: bool = True) -> None:
        while calls := self.qualifier.drain_calls():
            try:
                await self.store.call(
                    _save_or_return_calls,
                    self.store,
                    self.qualifier,
                    (),
                    calls,
                    patience=self.store.save_patience + (self.store.timeout or 0),
                )
            except StorageUnavailable as exc:
                log.error("call log: %d attempt(s) not stored yet: %s", len(calls), exc)
                if not retry:
                    return
                await asyncio.sleep(self.RETRY_SECONDS)
            except Exception:  # not an outage: these attempts are dropped; go on with the rest
                log.exception("call log: a save failed")

    async def aclose(self) -> None:
        """Stop, and store what is left with one bounded try (a database that is away at
        shutdown must not hold the process until it is killed)."""
        self.qualifier.on_call(None)
        if self._task is not None:
            self._task.cancel()  # a save it had started still runs on the store's thread
            with suppress(asyncio.CancelledError):
                await self._task
        with suppress(TimeoutError, StorageUnavailable):
            await asyncio.wait_for(self._flush(retry=False), self.store.timeout or 10.0)
        if left := len(self.qualifier.calls):
            log.error("call log: %d attempt(s) not stored at shutdown", left)


# One lead's way out of the pipeline: its index, the parsed lead (None if it did not parse),
# its result or error, and whether that is fresh (not stored yet) or came from the cache.
Step = tuple[int, LeadInput | None, ResultOrError, bool]


def parse_each(raws: Sequence[Any]) -> list[LeadInput | LeadError]:
    """Each raw lead validated, or the error naming its field. A lead that is already parsed,
    or already an error (a file row that could not be read), is passed through."""
    out: list[LeadInput | LeadError] = []
    for raw in raws:
        if isinstance(raw, LeadInput | LeadError):
            out.append(raw)
            continue
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
        hits = iter(await self.cache.store.call(self.cache.lookup, wanted))
        out = [next(hits) if scope else None for scope in scopes]
        backend = self.qualifier.backend
        out = [
            None if hit is None else await backend.rescore(lead, hit)
            for lead, hit in zip(leads, out, strict=True)
        ]
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
                made = (outcome.provider, outcome.model, outcome.prompt_version)
                if scope == (*made, outcome.profile_version):
                    items.append((lead, scope, outcome))
        if items:
            await asyncio.to_thread(self.cache.remember, items)

    async def keep(self, pairs: Sequence[tuple[LeadInput | None, ResultOrError]]) -> None:
        """Store outcomes and the calls made for them; stamp the ids on the results. If the
        database cannot take them, the results are still returned (without ids: they exist
        nowhere else, and were often paid for), the failure is logged, and the calls wait
        for the next save."""
        calls = self.qualifier.drain_calls()
        if self.store is None or not (pairs or calls):
            observe_results(pairs, self.qualifier.settings.log_pii)
            return
        try:
            ids = await self.store.call(
                _save_or_return_calls,
                self.store,
                self.qualifier,
                pairs,
                calls,
                patience=self.store.save_patience + (self.store.timeout or 0),
            )
        except StorageUnavailable as exc:
            count_unstored(len(pairs))
            log.error(
                "%d result(s) returned without confirmation they were stored: %s", len(pairs), exc
            )
            observe_results(pairs, self.qualifier.settings.log_pii)
            return
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

    async def pipeline(
        self, parsed: Sequence[LeadInput | LeadError], concurrency: int | None = None
    ) -> AsyncIterator[Step]:
        """Every lead's step out, as it comes: invalid leads first (their error), then cache
        hits (the stored result), then the rest as the qualifier completes them. Closing the
        iterator early cancels the calls still in flight."""
        valid: list[tuple[int, LeadInput]] = []
        for i, item in enumerate(parsed):
            if isinstance(item, LeadError):
                yield i, None, item, True
            else:
                valid.append((i, item))
        hits = await self.cached([lead for _, lead in valid])
        misses: list[tuple[int, LeadInput]] = []
        for (i, lead), hit in zip(valid, hits, strict=True):
            if hit is None:
                misses.append((i, lead))
            else:
                yield i, lead, hit, False
        leads = [lead for _, lead in misses]
        async for j, outcome in self.qualifier.qualify_leads_as_completed(leads, concurrency):
            i, lead = misses[j]
            yield i, lead, outcome, True

    async def as_completed(self, raws: Sequence[Any]) -> AsyncIterator[tuple[int, ResultOrError]]:
        """`(index, outcome)` as each lead completes, each stored before it is yielded."""
        async for i, lead, outcome, fresh in self.pipeline(parse_each(raws)):
            if fresh:
                await self.keep([(lead, outcome)])
            yield i, outcome

    async def batch(self, raws: Sequence[Any]) -> list[ResultOrError]:
        """One outcome per lead, in order, stored in one transaction."""
        parsed = parse_each(raws)
        out: list[ResultOrError | None] = [None] * len(parsed)
        fresh: list[tuple[int, LeadInput | None, ResultOrError]] = []

        async def store_fresh() -> None:
            fresh.sort(key=lambda step: step[0])  # stored in input order
            await self.keep([(lead, outcome) for _, lead, outcome in fresh])

        try:
            async for i, lead, outcome, is_fresh in self.pipeline(parsed):
                out[i] = outcome
                if is_fresh:
                    fresh.append((i, lead, outcome))
        except asyncio.CancelledError:  # the client left: what is done is kept (and cached)
            await asyncio.shield(store_fresh())
            raise
        await store_fresh()
        return cast(list[ResultOrError], out)  # the pipeline yields every index once

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
