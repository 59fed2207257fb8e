"""Client CPU, throughput, rate-limit use and prompt size (measurements 1, 2, 3 and 8 in
bench/README.md): leadq's Python API and the baseline's, in this process, against the bench
provider in another process (so that only the client's CPU is counted)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.baseline import SeedQualifier
from bench.leads import comparable, llm_leads
from bench.provider import ProviderProcess
from bench.rows import Row
from leadq.config import Settings
from leadq.core.result import QualificationResult
from leadq.qualifier import LeadQualifier

LATENCY = 0.633  # the original design's stated single-lead latency, as the provider's delay
RATE_LIMIT = 600  # requests a minute the provider allows in the rate-limit measurement
OTHER_PROMPTS = ("v1", "v2")  # measured beside the default prompt for prompt size


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does; `--smoke` shrinks them to seconds in all."""

    cpu_leads: int = 1000
    cpu_concurrency: int = 16
    tp_leads: int = 800
    tp_concurrency: int = 200
    rl_limit: int = RATE_LIMIT
    rl_window: float = 60.0
    rl_unit: str = "minute"  # the rate-limit headers' suffix, matching the window
    rl_delay: float = 0.1
    sl_limit: int = 120  # requests a window of the sliding-window measurements (9, 9b)
    sl_window: float = 60.0
    sl_unit: str = "minute"
    repeat: int = 3


SMOKE = Sizes(
    cpu_leads=20,
    cpu_concurrency=4,
    tp_leads=20,
    tp_concurrency=10,
    rl_limit=10,
    rl_window=1.0,
    rl_unit="second",
    rl_delay=0.02,
    sl_limit=8,
    sl_window=1.0,
    sl_unit="second",
    repeat=1,
)


def leadq_client(url: str, **settings: Any) -> LeadQualifier:
    """leadq's Python API on the `openai` provider at `url`, otherwise as configured by
    default (the bench clears leadq's environment variables before it starts)."""
    return LeadQualifier(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            provider="openai",
            openai_base_url=url,
            openai_api_key="sk-bench",
            model="test-model",
            **settings,
        )
    )


def ok_count(outcomes: list[Any]) -> int:
    return sum(isinstance(o, (QualificationResult, dict)) for o in outcomes)


Batch = Callable[[list[dict[str, Any]]], Awaitable[list[Any]]]
Close = Callable[[], Awaitable[None]]


async def _leadq_batch(url: str, **settings: Any) -> tuple[Batch, Close]:
    q = leadq_client(url, **settings)

    async def run(leads: list[dict[str, Any]]) -> list[Any]:
        out = await q.qualify_leads_batch_async(leads)
        q.drain_calls()  # the call log's buffer, emptied as the service would
        return out

    return run, q.backend.aclose


async def _baseline_batch(url: str, concurrency: int) -> tuple[Batch, Close]:
    b = SeedQualifier(url)

    async def run(leads: list[dict[str, Any]]) -> list[Any]:
        return await b.qualify_leads_batch_async(leads, max_concurrency=concurrency)

    async def close() -> None:  # in the loop that used it: its HTTP client is bound to it
        await b.llm.root_async_client.close()

    return run, close


def _client(side: str, url: str, concurrency: int, **settings: Any) -> Any:
    if side == "leadq":
        return _leadq_batch(url, **settings)
    return _baseline_batch(url, concurrency)


def cpu_per_lead(sizes: Sizes) -> Row:
    """1. Client CPU per lead at zero provider latency (process CPU time / leads)."""
    row = Row("1", "Client CPU per lead, zero latency", "ms", False, "<= 50% of baseline", [], [])
    c = sizes.cpu_concurrency
    with ProviderProcess(delay=0.0) as provider:
        for n in range(sizes.repeat):
            for side in ("leadq", "baseline"):

                async def measure(side: str = side, n: int = n) -> float:
                    run, close = await _client(side, provider.url, c, max_concurrency=c)
                    await run(llm_leads(max(5, c), f"w{side}{n}"))  # connections, first calls
                    leads = llm_leads(sizes.cpu_leads, f"c{side}{n}")
                    start = time.process_time()
                    outcomes = await run(leads)
                    spent = time.process_time() - start
                    await close()
                    if ok_count(outcomes) != len(leads):
                        raise RuntimeError(f"{side}: {len(leads) - ok_count(outcomes)} failed")
                    return spent / len(leads) * 1000

                getattr(row, side).append(asyncio.run(measure()))
    row.note = f"{sizes.cpu_leads} leads, {c} in flight; provider in its own process"
    row.met = (row.ratio() or 99) <= 0.5
    return row


def throughput(sizes: Sizes, tokens_per_minute: int | None = None) -> Row:
    """2. Throughput at `tp_concurrency` leads in flight with 633 ms provider latency, as a
    share of what the concurrency allows (concurrency / latency). 2b: the same with a
    provider whose answers advertise a generous token limit (`tokens_per_minute`), which
    leadq's limiter must not turn into a pace (each request reserves its prompt and
    `max_completion_tokens`, about 2,000 tokens)."""
    c = sizes.tp_concurrency
    key, name = "2", f"Throughput, {c} in flight, 633 ms latency"
    if tokens_per_minute:
        key, name = "2b", f"Same, {tokens_per_minute / 1e6:g}M tokens/min in the headers"
    row = Row(key, name, "% of ideal", True, ">= 90%")
    row.baseline = []
    ideal = c / LATENCY
    rates: dict[str, list[float]] = {"leadq": [], "baseline": []}
    busy: list[float] = []  # the provider's CPU, as a share of one core, while measured
    with ProviderProcess(delay=LATENCY, tokens_per_minute=tokens_per_minute) as provider:
        for n in range(sizes.repeat):
            for side in ("leadq", "baseline"):

                async def measure(side: str = side, n: int = n) -> float:
                    run, close = await _client(side, provider.url, c, max_concurrency=c)
                    await run(llm_leads(c, f"w{side}{n}"))  # open the connections
                    leads = llm_leads(sizes.tp_leads, f"t{side}{n}")
                    start, provider_cpu = time.perf_counter(), provider.cpu_seconds()
                    outcomes = await run(leads)
                    wall = time.perf_counter() - start
                    busy.append((provider.cpu_seconds() - provider_cpu) / wall * 100)
                    await close()
                    if ok_count(outcomes) != len(leads):
                        raise RuntimeError(f"{side}: {len(leads) - ok_count(outcomes)} failed")
                    return len(leads) / wall

                rate = asyncio.run(measure())
                rates[side].append(rate)
                getattr(row, side).append(rate / ideal * 100)
    med = {side: statistics.median(v) for side, v in rates.items()}
    row.note = (
        f"{sizes.tp_leads} leads; leads/s median: leadq {med['leadq']:.0f}, baseline "
        f"{med['baseline']:.0f}, ideal {ideal:.0f}; LEADQ_MAX_CONCURRENCY={c}; the provider "
        f"process used at most {max(busy):.0f}% of a core"
    )
    row.met = (row.median() or 0) >= 90
    return row


async def _leadq_within(url: str, leads: list[dict[str, Any]], seconds: float) -> tuple[int, int]:
    """leadq's as-completed batch with nothing configured: (answered, failed) in `seconds`;
    then the rest is cancelled (closing the iterator cancels the calls in flight)."""
    q = leadq_client(url)
    answered = failed = 0
    end = time.perf_counter() + seconds
    items = q.qualify_leads_as_completed(leads)
    try:
        while True:
            try:
                async with asyncio.timeout(max(0.0, end - time.perf_counter())):
                    _, outcome = await anext(items)
            except (TimeoutError, StopAsyncIteration):
                break
            if isinstance(outcome, QualificationResult):
                answered += 1
            else:
                failed += 1
    finally:
        await items.aclose()  # type: ignore[attr-defined]
        await q.backend.aclose()
    return answered, failed


async def _baseline_within(
    url: str, leads: list[dict[str, Any]], seconds: float
) -> tuple[int, str]:
    """The baseline's batch at its default concurrency (5): all its results, or none; and how
    it ended ("finished", "raised": every result lost, or "was still running")."""
    b = SeedQualifier(url)
    try:
        async with asyncio.timeout(seconds):
            return ok_count(await b.qualify_leads_batch_async(leads)), "finished"
    except TimeoutError:
        return 0, "was still running"
    except Exception:  # noqa: BLE001 - one 429 past its SDK's retries: every result lost
        return 0, "raised"
    finally:
        await b.llm.root_async_client.close()


def rate_limit_use(sizes: Sizes) -> list[Row]:
    """3. Share of a provider's request limit used over two of its windows (2 minutes),
    with nothing configured, and the leads that failed meanwhile.

    The scripted limit is a fixed window that opens at the first request after the last one
    closed; a client that keeps up fills each one. Each side gets more leads than two windows
    allow and is stopped after two windows; use = leads answered by then / twice the limit.
    A client pacing at the limit and one that bursts at each window's opening both score
    about 100%."""
    limit, window = sizes.rl_limit, sizes.rl_window
    use = Row("3", f"Rate-limit use, {limit}/{window:g}s limit", "% of limit", True, ">= 90%")
    failed = Row("3b", "Failed leads meanwhile", "leads", False, "0")
    use.baseline, failed.baseline = [], []
    notes = []
    spec = {"requests": limit, "window": window, "unit": sizes.rl_unit}
    seconds, allowance = 2 * window, 2 * limit
    with ProviderProcess(delay=sizes.rl_delay, rate_limit=spec) as provider:
        for side in ("leadq", "baseline"):
            provider.reset()
            leads = llm_leads(3 * limit, f"r{side}")
            how = ""
            if side == "leadq":
                answered, lost = asyncio.run(_leadq_within(provider.url, leads, seconds))
            else:
                answered, how = asyncio.run(_baseline_within(provider.url, leads, seconds))
                lost = len(leads) if how == "raised" else 0
                how = f" (its batch {how})"
            stats = provider.stats()
            getattr(use, side).append(answered / allowance * 100)
            getattr(failed, side).append(float(lost))
            notes.append(
                f"{side}: {answered} answered in {seconds:g}s{how}, "
                f"{stats['statuses'].get('429', 0)} answered 429 by the provider"
            )
    use.note = "; ".join(notes) + f"; {3 * limit} leads offered to each"
    use.met = (use.median() or 0) >= 90
    failed.met = failed.median() == 0
    return [use, failed]


def _limited_batch(url: str, leads: list[dict[str, Any]], concurrency: int) -> tuple[float, int]:
    """leadq's batch, nothing configured but the concurrency: seconds taken, leads failed."""

    async def run() -> tuple[float, int]:
        q = leadq_client(url, max_concurrency=concurrency)
        start = time.perf_counter()
        try:
            outcomes = await q.qualify_leads_batch_async(leads)
        finally:
            await q.backend.aclose()
        return time.perf_counter() - start, len(leads) - ok_count(outcomes)

    return asyncio.run(run())


def provider_limits(sizes: Sizes) -> list[Row]:
    """9, 9b. Limits as providers enforce them: a sliding window of `sl_limit` requests a
    minute (at most that many in any 60 s), 0.3 s latency. 9: a fresh limit and fewer leads
    than it allows, 20 in flight: the burst should be spent at once (pacing at the average
    rate took 30 s for 60 leads). 9b: four times as many leads, over two windows."""
    limit, window, latency, c = sizes.sl_limit, sizes.sl_window, 0.3, 20
    per = f"{limit}/{window:g}s"
    fresh = Row("9", f"{limit // 2} leads, fresh {per} sliding limit", "s", False, "<= 5 s")
    over = Row("9b", f"{limit * 2} leads at {per}, sliding", "s", False, "<= 80 s")
    refused = Row("9c", "Requests refused with 429 in 9b", "% of requests", False, "<= 20%")
    spec = {"requests": limit, "window": window, "unit": sizes.sl_unit, "mode": "sliding"}
    notes = []
    with ProviderProcess(delay=latency, rate_limit=spec) as provider:
        for row, n in ((fresh, limit // 2), (over, limit * 2)):
            provider.reset()
            seconds, failed = _limited_batch(provider.url, llm_leads(n, f"s{row.key}"), c)
            stats = provider.stats()
            rejected = stats["statuses"].get("429", 0)
            row.leadq.append(seconds)
            notes.append(f"{row.key}: {n} leads, {failed} failed, {rejected} answered 429")
            if row is over:
                requests = sum(stats["statuses"].values())
                refused.leadq.append(rejected / max(1, requests) * 100)
    fresh.met = (fresh.median() or 99) <= 5
    over.met = (over.median() or 999) <= 80
    refused.met = (refused.median() or 0) <= 20
    fresh.note = f"{c} in flight, {latency:g} s latency, nothing configured; " + "; ".join(notes)
    return [fresh, over, refused]


def prompt_size(_: Sizes) -> list[Row]:
    """8. Prompt tokens per lead as the server counts them (`len(json.dumps(messages)) // 4`,
    the scripted server's own count), and the same count with the answer schema added
    (`response_format` or `tools`), which providers also read as input."""
    leads = comparable()
    tokens = Row("8", "Prompt tokens per lead (server's count)", "tokens", False, "<= baseline")
    whole = Row("8b", "Same, with the answer schema sent", "tokens", False, "(information)")
    tokens.baseline, whole.baseline = [], []
    others: dict[str, dict[str, float]] = {}  # the other prompt versions, for the notes
    with ProviderProcess(delay=0.0) as provider:
        sides: list[tuple[str, dict[str, Any]]] = [
            ("leadq", {}),
            ("baseline", {}),
            *((f"leadq {v}", {"prompt_version": v}) for v in OTHER_PROMPTS),
        ]
        for side, settings in sides:
            provider.reset()

            async def measure(side: str = side, settings: dict[str, Any] = settings) -> int:
                base = side.split()[0]
                run, close = await _client(base, provider.url, 4, **settings)
                answered = ok_count(await run([dict(lead) for lead in leads]))
                await close()
                return answered

            if asyncio.run(measure()) != len(leads):
                raise RuntimeError(f"{side}: some leads failed")
            stats = provider.stats()
            prompt = statistics.mean(stats["prompt_tokens"])
            schema = statistics.mean(stats["schema_chars"]) / 4
            if side.startswith("leadq "):
                others[side.split()[1]] = {"prompt": prompt, "whole": prompt + schema}
                continue
            getattr(tokens, side).append(prompt)
            getattr(whole, side).append(prompt + schema)
    tokens.note = f"mean over the {len(leads)} example leads both accept; other prompts: " + (
        ", ".join(f"{v} {n['prompt']:.0f}" for v, n in others.items())
    )
    whole.note = "other prompts: " + ", ".join(f"{v} {n['whole']:.0f}" for v, n in others.items())
    tokens.met = (tokens.ratio() or 99) <= 1.0
    whole.met = None
    return [tokens, whole]
