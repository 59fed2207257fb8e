"""`LeadQualifier`: the Python API, with the method names of the original design. Every lead
in gets exactly one outcome out: a `QualificationResult` or a `LeadError` in its place."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leadq.backends.base import Backend
from leadq.backends.factory import make_backend
from leadq.config import Settings, get_settings
from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, PartialResult, QualificationResult, ResultOrError
from leadq.observability.events import observed
from leadq.portal import Portal

log = logging.getLogger("leadq.qualifier")
MAX_PENDING_CALLS = 100_000
LOCAL_CHUNK = 1000  # leads the local engine qualifies at a time, between yields


def _lead_id(raw: Any) -> str | None:
    if isinstance(raw, LeadInput):
        return raw.lead_id
    if isinstance(raw, dict) and isinstance(raw.get("lead_id"), str):
        return raw["lead_id"].strip() or None
    return None


class LeadQualifier:
    """Qualifies leads with the configured backend (an LLM chain or the rules engine)."""

    def __init__(self, settings: Settings | None = None, backend: Backend | None = None) -> None:
        self.settings = settings or get_settings()
        self.backend = backend or make_backend(self.settings)
        self._portal = Portal()
        # Provider call attempts not yet stored. Only the service drains them, so a Python-API
        # user who never does keeps the newest MAX_PENDING_CALLS, not every call ever made.
        self.calls: deque[CallAttempt] = deque(maxlen=MAX_PENDING_CALLS)
        self._on_call: Callable[[], None] | None = None
        self.backend.report_calls_to(observed(self._keep_call))  # metrics and log, then kept

    def _keep_call(self, attempt: CallAttempt) -> None:
        self.calls.append(attempt)
        if self._on_call is not None:
            self._on_call()

    def on_call(self, wake: Callable[[], None] | None) -> None:
        """Call `wake()` after each provider call attempt is kept (the server's call log
        stores them as they complete, not when their batch ends)."""
        self._on_call = wake

    def drain_calls(self) -> list[CallAttempt]:
        """The call attempts recorded since the last drain (for the call log)."""
        calls = []
        while self.calls:  # popleft: attempts appended meanwhile stay for the next drain
            calls.append(self.calls.popleft())
        return calls

    def return_calls(self, calls: Sequence[CallAttempt]) -> None:
        """Put back attempts that could not be stored, for the next drain. Beyond
        `MAX_PENDING_CALLS` (a long database outage) the oldest go, and the log says so."""
        room = MAX_PENDING_CALLS - len(self.calls)
        if len(calls) > room:
            log.error(
                "call log: %d attempt(s) dropped, more than %d wait to be stored",
                len(calls) - max(room, 0),
                MAX_PENDING_CALLS,
            )
            calls = calls[len(calls) - max(room, 0) :]
        self.calls.extendleft(reversed(calls))

    def __repr__(self) -> str:
        return f"LeadQualifier(provider={self.backend.provider!r}, model={self.backend.model!r})"

    @property
    def provider(self) -> str:
        return self.backend.provider

    @property
    def model(self) -> str:
        return self.backend.model

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    # ---- async ----------------------------------------------------------------------------

    async def qualify_lead_async(self, lead: Any) -> QualificationResult:
        """Qualify one lead. Raises `InvalidLeadError` (naming the field) or a provider error."""
        return await self.backend.qualify(LeadInput.parse(lead))

    async def _result_or_error(self, lead: Any) -> ResultOrError:
        try:
            return await self.qualify_lead_async(lead)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes this lead's error, never the batch's
            return LeadError.from_exception(exc, _lead_id(lead))

    def _result_or_error_now(self, lead: Any) -> ResultOrError:
        try:
            return self.backend.qualify_now(LeadInput.parse(lead))
        except Exception as exc:  # noqa: BLE001 - becomes this lead's error
            return LeadError.from_exception(exc, _lead_id(lead))

    async def qualify_leads_batch_async(
        self, leads: Sequence[Any], max_concurrency: int | None = None
    ) -> list[ResultOrError]:
        """One outcome per lead, in input order; a failed lead holds a `LeadError`."""
        out: list[ResultOrError | None] = [None] * len(leads)
        async for index, outcome in self.qualify_leads_as_completed(leads, max_concurrency):
            out[index] = outcome
        return out  # type: ignore[return-value]

    async def qualify_leads_as_completed(
        self, leads: Iterable[Any], max_concurrency: int | None = None
    ) -> AsyncGenerator[tuple[int, ResultOrError], None]:
        """`(index, outcome)` for each lead as it completes. Closing the iterator early
        cancels the calls still in flight."""
        items = list(leads)
        if self.backend.is_local:
            for start in range(0, len(items), LOCAL_CHUNK):
                with collector_paused():
                    chunk = [
                        self._result_or_error_now(x) for x in items[start : start + LOCAL_CHUNK]
                    ]
                for i, outcome in enumerate(chunk, start):
                    yield i, outcome
            return
        limit = asyncio.Semaphore(max_concurrency or self.settings.max_concurrency)

        async def one(i: int, lead: Any) -> tuple[int, ResultOrError]:
            async with limit:
                return i, await self._result_or_error(lead)

        tasks = [asyncio.ensure_future(one(i, lead)) for i, lead in enumerate(items)]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            await _cancel_once(tasks)

    async def stream_qualification(
        self, lead: Any
    ) -> AsyncGenerator[PartialResult | QualificationResult, None]:
        """Progressively fuller `PartialResult`s as the model's tokens arrive, then the
        validated `QualificationResult`. Raises like `qualify_lead_async`."""
        parsed = LeadInput.parse(lead)
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=64)

        async def produce() -> None:
            try:
                async for item in self.backend.stream(parsed):
                    await queue.put(("item", item))
                await queue.put(("end", None))
            except Exception as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
                await queue.put(("error", exc))

        # The provider call runs in a task of its own: a consumer that goes away (a client
        # disconnect) cancels it exactly once, so its HTTP connection is closed cleanly.
        producer = asyncio.ensure_future(produce())
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            await _cancel_once([producer])

    # ---- sync -----------------------------------------------------------------------------

    def qualify_lead(self, lead: Any) -> QualificationResult:
        """Qualify one lead, blocking. Raises like `qualify_lead_async`."""
        if self.backend.is_local:
            return self.backend.qualify_now(LeadInput.parse(lead))
        return self._portal.call(self.qualify_lead_async(lead))

    def qualify_leads_batch(
        self, leads: Sequence[Any], max_concurrency: int | None = None
    ) -> list[ResultOrError]:
        """Blocking batch: one outcome per lead, in input order."""
        return self._portal.call(self.qualify_leads_batch_async(leads, max_concurrency))

    def close(self) -> None:
        """Release HTTP clients and the sync API's thread."""
        try:
            self._portal.call(self.backend.aclose())
        finally:
            self._portal.close()


class _CollectorPause:
    """Holds off cyclic garbage collection while the local engine qualifies a chunk of leads
    (its results are acyclic: refcounting frees them). Collections in the middle of a batch
    walk every result made so far, over and over in a large batch. Nests and works
    across threads; the collector is turned back on only if it was on to begin with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


collector_paused = _CollectorPause()


async def _cancel_once(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel unfinished tasks once and give them a moment to clean up.

    Not `gather`: under an anyio cancel scope (Starlette, sse-starlette) the waiting task is
    cancelled again and again, and `gather` would pass each of those on to the tasks,
    interrupting the HTTP client while it closes the provider connection (which then stays open and
    the provider keeps working on an answer nobody reads)."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        try:
            await asyncio.wait(pending, timeout=5)
        except asyncio.CancelledError:
            # The tasks were cancelled once and finish their cleanup on their own.
            raise
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved


_instance: LeadQualifier | None = None


def get_lead_qualifier() -> LeadQualifier:
    """The process-wide qualifier, built from the environment on first use (`leadq.get_qualifier`
    wraps this one in the original design's dict-returning API)."""
    global _instance
    if _instance is None:
        _instance = LeadQualifier()
    return _instance
