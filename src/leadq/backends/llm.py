"""The LLM backend: the chain over Cerebras, any OpenAI-compatible server or Anthropic (the
model step is the wire format the provider's `api` names: `wire.openai_chat.ChatCompletions`
or `wire.anthropic_messages.AnthropicMessages`), with retries, a per-lead deadline and one
HTTP session per event loop (an aiohttp session bound to a loop that has closed cannot be
used again)."""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, NoReturn, cast

import aiohttp
from langchain_core.runnables import Runnable, RunnableConfig

from leadq.backends.base import Backend
from leadq.chain.build import build_chain
from leadq.chain.prompt import Repair
from leadq.config import Settings
from leadq.core.calls import CallAttempt, CallSink
from leadq.core.errors import (
    BadProviderAnswer,
    LeadqError,
    ProviderTimeout,
    QueueTimeout,
    RateLimited,
)
from leadq.core.identity import CacheScope, lead_key
from leadq.core.lead import LeadInput
from leadq.core.policy import ResultContext
from leadq.core.result import PartialResult, QualificationResult
from leadq.observability.metrics import count_retry, observe_rate_wait
from leadq.providers.catalog import ProviderInfo
from leadq.providers.endpoint import endpoint_for
from leadq.providers.ratelimit import RateLimiter, Ticket
from leadq.wire.apis import wire_api
from leadq.wire.failures import classify
from leadq.wire.step import CallShape, ModelStep

MAX_RATE_LIMIT_WAIT = 60.0
# 429s with a reset time are waited out (the limiter holds every caller until then) and do
# not use up LEADQ_MAX_RETRIES; this bounds them, with the lead's deadline.
RATE_LIMIT_RETRIES = 8
CHARS_PER_TOKEN = 4  # for the limiter's estimate of a request's prompt tokens
MIN_CONNECTIONS = 512  # the HTTP pool's least size (see `_session`)


class LLMBackend(Backend):
    """Qualifies leads with an LLM through the LCEL chain."""

    def __init__(self, settings: Settings, info: ProviderInfo) -> None:
        self.settings = settings
        self.info = info
        self.endpoint = endpoint_for(settings, info)
        self.base_url = self.endpoint.base_url
        self.provider = info.name
        self.model = settings.model or info.default_model
        self.method = settings.structured_output or info.structured_output
        self.limiter: RateLimiter = self.endpoint.limiter(self.model, settings)
        self.reasoning_effort = settings.reasoning_effort or (
            info.default_reasoning_effort if info.is_reasoning_model(self.model) else None
        )
        self.ctx = ResultContext(
            info.name,
            self.model,
            settings.prompt_version,
            settings.score_weights,
            settings.prices_file,
            icp_file=settings.icp_file,  # the injection ceiling uses the same profile
        )
        self.variants = settings.variants  # prompt versions, one picked per lead
        self.profile = settings.profile  # the offer the prompt carries
        self.api = wire_api(info.api)  # the model step's class: the provider's wire format
        self._fields = self._request_fields()
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._sink: CallSink | None = None  # the call log
        build_chain(self._model(None), self.method, self.ctx, self.profile)  # fail fast

    def __repr__(self) -> str:
        return (
            f"LLMBackend(provider={self.provider!r}, model={self.model!r}, url={self.base_url!r})"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "configured": True,
            "structured_output": self.method,
            "base_url": self.base_url,
            "rate_limit": self.limiter.describe(),
            "profile_version": self.profile.version,
        }

    def cache_scope(self, lead: LeadInput) -> CacheScope:
        """Provider, model, the lead's prompt variant and the seller profile's version."""
        variant = self.variants.pick(lead_key(lead))
        return CacheScope(self.provider, self.model, variant, self.profile.version)

    def report_calls_to(self, sink: CallSink | None) -> None:
        self._sink = sink

    def _request_fields(self) -> dict[str, Any]:
        """What every request sends besides the messages (model, sampling, the answer budget,
        the structured-output fields), in the words of the provider's API."""
        temperature = self.settings.temperature
        call = CallShape(
            info=self.info,
            model=self.model,
            max_tokens=self.settings.max_completion_tokens,
            temperature=temperature if self.info.takes_temperature(self.model) else None,
            reasoning_effort=self.reasoning_effort,
            method=self.method,
        )
        return self.api.request_fields(call)

    def _model(self, session: aiohttp.ClientSession | None) -> ModelStep:
        return self.api(
            session=session,
            base_url=self.base_url,
            api_key=self.endpoint.bearer,
            fields=self._fields,
            from_tool=self.method == "function_calling",
            before_send=self._before_send,
            on_answer=self._on_answer,
        )

    async def _chain(self, lead: LeadInput) -> Runnable:
        """The chain of the lead's prompt variant, on this event loop's HTTP session."""
        loop = asyncio.get_running_loop()
        state = self._per_loop.get(loop)
        if state is None:
            session = self._session()
            keeper = _close_at_shutdown(session)
            await anext(keeper)
            _KEPT[session] = keeper
            state = self._per_loop[loop] = _LoopState(session, self._chains(session), keeper)
        return state.chains[self.variants.pick(lead_key(lead))]

    def _session(self) -> aiohttp.ClientSession:
        """An aiohttp session with room for every lead in flight twice over (a stream being
        closed while its retry connects), and at least `MIN_CONNECTIONS`: the pool only
        bounds open sockets; batches bound their own concurrency, and a batch asking for more
        than LEADQ_MAX_CONCURRENCY must not queue for connections. One pool, not several:
        aiohttp hands out connections from a queue, where httpx scanned its whole pool for
        each request (26 ms of CPU a lead at 200 in flight, before leadq split it up)."""
        conns = max(self.settings.max_concurrency * 2, MIN_CONNECTIONS)
        t = self.settings.timeout
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=conns, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=None, connect=t, sock_read=t),
        )

    def _chains(self, session: aiohttp.ClientSession) -> dict[str, Runnable]:
        model = self._model(session)
        return {
            v: build_chain(model, self.method, replace(self.ctx, prompt_version=v), self.profile)
            for v in self.variants.versions
        }

    async def _before_send(self, body_bytes: int) -> Ticket:
        """Wait for the limiter's slot: prompt tokens (estimated from the body) plus the
        completion budget, as the provider counts them. The wait is the lead's time in
        leadq's own queue: it does not count toward LEADQ_LEAD_DEADLINE, only toward
        LEADQ_QUEUE_TIMEOUT."""
        output = self.settings.max_completion_tokens
        tokens = body_bytes // CHARS_PER_TOKEN + output
        ticket = self.limiter.take_now(tokens, output)
        if ticket is not None:  # the usual case: a slot is free, nothing to wait or move
            return ticket
        clock = _LEAD.get()
        if clock is None:  # not inside an attempt (a direct call of the model step)
            return (await self.limiter.acquire(tokens, self.settings.queue_timeout, output))[1]
        with clock.queueing() as queue:
            waited, ticket = await self.limiter.acquire(
                tokens, clock.queue_left(self.settings), output
            )
            queue.add(waited)
        if waited > 0:
            observe_rate_wait(self.provider, waited)
        return ticket

    def _on_answer(self, headers: Mapping[str, str], status: int, ticket: object) -> None:
        """Learn the provider's limits from every answer's headers, 429s included; a request
        that got no answer gives its place in the first probe back."""
        if not isinstance(ticket, Ticket):
            return
        if status == 0:
            self.limiter.abandon(ticket)
        else:
            self.limiter.observe(headers, status, ticket)

    def _delay(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds before retry number `attempt`: the provider's reset time for a 429, else
        exponential backoff with jitter."""
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RATE_LIMIT_WAIT) + random.uniform(0, 0.5)  # noqa: S311 - jitter
        base = self.settings.retry_base_delay
        return min(base * 2 ** (attempt - 1), max(base, 8.0)) + random.uniform(0, base)  # noqa: S311 - jitter

    def _retry_limit(self, err: LeadqError) -> int:
        """How many retries `err`'s kind gets: 429s with a reset are waited out; an unusable
        answer is asked again once (the repair attempt); the rest get LEADQ_MAX_RETRIES."""
        if isinstance(err, RateLimited):
            return RATE_LIMIT_RETRIES
        if isinstance(err, BadProviderAnswer):
            return min(1, self.settings.max_retries)
        return self.settings.max_retries

    async def _pause_before_retry(
        self, err: LeadqError, tries: Counter[str], clock: _LeadClock
    ) -> None:
        """Wait before the next try, or raise when `err` may not be retried: it is not
        retryable, its kind's retries are used up, or the wait would pass the lead's deadline.
        The one retry policy of both `qualify` and `stream`. No retry library: tenacity's
        `with attempt:` catches BaseException, and with a `yield` inside it a cancelled
        stream's provider connection stayed open."""
        kind = type(err).__name__
        tries[kind] += 1
        if not err.retryable or tries[kind] > self._retry_limit(err):
            raise err
        if isinstance(err, QueueTimeout):  # waited as long as the queue may: not again
            raise err
        delay = self._delay(err, tries[kind])
        if isinstance(err, RateLimited):
            # Waiting out a 429's reset is queue time, not the provider's: it extends the
            # deadline, within LEADQ_QUEUE_TIMEOUT; past that, the 429 is the lead's error.
            if delay > clock.queue_left(self.settings):
                raise err
            clock.end += delay
            clock.queued += delay
        elif time.perf_counter() + delay >= clock.end:
            raise self._deadline_error() from err
        count_retry(self.provider, err.code)
        await asyncio.sleep(delay)

    def _reraise(self, exc: Exception) -> NoReturn:
        """Raise the typed error for a provider failure; anything else unchanged."""
        err = classify(exc, self.info, self.model, self.endpoint.key_env)
        if err is None or err is exc:
            raise exc
        raise err from exc

    def _record(
        self,
        lead: LeadInput,
        started: float,
        result: QualificationResult | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Report one attempt to the call log (status, the provider's latency, the time queued
        before it, tokens, cost, error class). A lead that only waited in leadq's own queue
        made no call, so it has no row."""
        if self._sink is None or isinstance(error, QueueTimeout):
            return
        clock = _LEAD.get()
        queued = clock.attempt_queued if clock is not None else 0.0
        latency = round(max(0.0, time.perf_counter() - started - queued) * 1000, 2)
        queue_ms = round(queued * 1000, 2)
        if result is not None:
            self._sink(
                CallAttempt(
                    lead,
                    self.provider,
                    self.model,
                    "ok",
                    latency,
                    200,
                    result.usage.input_tokens,
                    result.usage.output_tokens,
                    result.cost_usd,
                    queue_ms=queue_ms,
                )
            )
            return
        code = getattr(error, "code", "internal_error")
        cause = error.__cause__ if error is not None and error.__cause__ else error
        status = getattr(cause, "status_code", None) or getattr(error, "status", None)
        self._sink(
            CallAttempt(
                lead,
                self.provider,
                self.model,
                code,
                latency,
                status,
                error_class=type(cause).__name__ if cause else None,
                queue_ms=queue_ms,
            )
        )

    def _deadline_error(self) -> ProviderTimeout:
        return ProviderTimeout(
            f"no answer from {self.provider} within LEADQ_LEAD_DEADLINE="
            f"{self.settings.lead_deadline:g}s (retries included)",
            provider=self.provider,
        )

    async def qualify(self, lead: LeadInput) -> QualificationResult:
        """One validated result, retrying what may succeed on a second try, all within
        `LEADQ_LEAD_DEADLINE`."""
        result: QualificationResult | None = None
        async for item in self._attempts(lead, streaming=False):
            if isinstance(item, QualificationResult):  # a whole answer is the result alone
                result = item
        if result is None:  # pragma: no cover - the chain always ends with the result
            raise BadProviderAnswer("the model gave no answer", provider=self.provider)
        return result

    async def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]:
        """Partial results as tokens arrive, the validated result last. A failure before the
        first partial is retried; after it, the error ends the stream."""
        async for item in self._attempts(lead, streaming=True):
            yield item

    async def _attempts(
        self, lead: LeadInput, *, streaming: bool
    ) -> AsyncIterator[PartialResult | QualificationResult]:
        """The one attempt loop of `qualify` and `stream`: run the chain (whole or streamed),
        type each failure, report every attempt to the call log, and retry what may succeed
        on a second try until the lead's deadline. After the first item has gone out, a
        failure ends the run instead."""
        chain = await self._chain(lead)
        t0 = time.perf_counter()
        clock = _LeadClock(end=t0 + self.settings.lead_deadline)
        token = _LEAD.set(clock)  # read by `_before_send` and `_record`
        try:
            emitted, tries = False, Counter[str]()
            config: RunnableConfig | None = None
            while True:
                clock.attempt_queued = 0.0
                items = cast(
                    AsyncGenerator[Any, None],
                    chain.astream(lead, config) if streaming else _whole(chain, lead, config),
                )
                started = time.perf_counter()
                try:
                    while True:
                        scope = asyncio.timeout(max(0.0, clock.end - time.perf_counter()))
                        clock.scope = scope
                        try:
                            async with scope:
                                item = await items.__anext__()
                        except StopAsyncIteration:
                            return
                        except TimeoutError as exc:
                            if scope.expired():
                                raise self._deadline_error() from None
                            self._reraise(exc)  # the HTTP session's own timeout (LEADQ_TIMEOUT)
                        except Exception as exc:  # noqa: BLE001 - typed, or re-raised as it is
                            self._reraise(exc)
                        emitted = True
                        if isinstance(item, QualificationResult):
                            item.latency_ms = round((time.perf_counter() - t0) * 1000, 2)
                            item.queue_ms = round(clock.queued * 1000, 2)
                            self._record(lead, started, item)
                        yield item
                except Exception as err:
                    self._record(lead, started, error=err)
                    if emitted or not isinstance(err, LeadqError):  # not the provider's: as it is
                        raise
                    await self._pause_before_retry(err, tries, clock)
                    config = _repair_config(err) or config
                finally:
                    await items.aclose()
        finally:
            try:
                _LEAD.reset(token)
            except ValueError:  # finalised in another context: clear it there instead
                _LEAD.set(None)

    async def aclose(self) -> None:
        """Close this event loop's HTTP session (another loop's closes when that loop ends)."""
        state = self._per_loop.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.session.close()
            await state.keeper.aclose()


async def _whole(
    chain: Runnable, lead: LeadInput, config: RunnableConfig | None
) -> AsyncIterator[QualificationResult]:
    """The chain's whole answer as a one-item stream, so `qualify` and `stream` share one loop."""
    yield await chain.ainvoke(lead, config)


def _repair_config(err: LeadqError) -> RunnableConfig | None:
    """The next attempt's config after an unusable answer: the answer and what was wrong
    with it go back to the model (`prompt.Repair`)."""
    if isinstance(err, BadProviderAnswer) and err.answer:
        return {"configurable": {"repair": Repair(err.answer, str(err))}}
    return None


@dataclass(slots=True)
class _LeadClock:
    """One lead's time. Provider work counts toward LEADQ_LEAD_DEADLINE (`end`); waiting in
    leadq's own queue (the rate limiter, a 429's reset) pushes `end` back by as long, and
    counts toward LEADQ_QUEUE_TIMEOUT instead."""

    end: float  # time.perf_counter() by which the provider's work must be done
    queued: float = 0.0  # seconds this lead has waited in the queue
    attempt_queued: float = 0.0  # ... of which during the current attempt
    scope: asyncio.Timeout | None = None  # the current attempt's deadline

    def queue_left(self, settings: Settings) -> float:
        return max(0.0, settings.queue_timeout - self.queued)

    @contextmanager
    def queueing(self) -> Iterator[_Queued]:
        """While in the queue, the attempt's deadline is off; after, it is back, later by
        the time waited."""
        scope = self.scope
        loop = asyncio.get_running_loop()
        when = scope.when() if scope is not None else None
        if scope is not None and when is not None:
            try:
                scope.reschedule(None)
            except RuntimeError:  # not the running attempt's scope (already left)
                scope = None
        queued = _Queued()
        try:
            yield queued
        finally:
            self.end += queued.seconds
            self.queued += queued.seconds
            self.attempt_queued += queued.seconds
            if scope is not None and when is not None:
                with suppress(RuntimeError):
                    scope.reschedule(max(when + queued.seconds, loop.time()))


@dataclass(slots=True)
class _Queued:
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.seconds += seconds


_LEAD: ContextVar[_LeadClock | None] = ContextVar("leadq_lead_clock", default=None)


@dataclass(slots=True)
class _LoopState:
    session: aiohttp.ClientSession
    chains: dict[str, Runnable]  # one per prompt variant
    keeper: AsyncGenerator[None, None]


# The keepers of sessions still open, held so that a backend dropped without `aclose` (in a
# reference cycle the garbage collector frees) does not take its open session along, which
# aiohttp reports as unclosed: the session waits for its loop's shutdown to close it.
_KEPT: dict[aiohttp.ClientSession, AsyncGenerator[None, None]] = {}


async def _close_at_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Closes `session` when its event loop shuts down: `asyncio.run` (and every `Runner`)
    finalizes the loop's unfinished async generators while the loop still runs. Without it,
    a session made in a loop that `asyncio.run` then closed leaked its connections."""
    try:
        yield
    finally:
        _KEPT.pop(session, None)
        await session.close()
