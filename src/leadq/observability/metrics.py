"""Prometheus metrics, in one registry of leadq's own, with a one-line helper for each thing
that happens (a lead finished, a provider call, a retry, a rate-limit wait, a breaker move,
a cache lookup, a budget switch).

Our own `CollectorRegistry` rather than prometheus-client's global one: an application
that imports leadq keeps its default registry free of our names (no duplicate-timeseries
errors), and `GET /metrics` shows exactly leadq's metrics plus the process collectors we
add here.

Metrics are per process, unless PROMETHEUS_MULTIPROC_DIR was set when prometheus-client
was first imported (`leadq serve --workers N` with N > 1 sets it, to a fresh directory,
before it starts the workers): then prometheus-client's multiprocess mode keeps every value
in a file of that directory, one file per process and kind, and `exposition()` adds up all
the processes' files, whichever process answers the scrape. The process, platform and GC
collectors read only their own process, which multiprocess mode does not support: they are
left out there."""

from __future__ import annotations

import os
import re
from contextlib import suppress
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    multiprocess,
    platform_collector,
    process_collector,
    values,
)

from leadq.core.calls import CallAttempt
from leadq.core.result import LeadError, QualificationResult, ResultOrError

# Decided by prometheus-client when it was imported (from PROMETHEUS_MULTIPROC_DIR), so ask
# the value class it chose rather than the environment, which may have changed since.
MULTIPROCESS: bool = bool(getattr(values.ValueClass, "_multiprocess", False))

REGISTRY = CollectorRegistry(auto_describe=True)
if not MULTIPROCESS:
    process_collector.ProcessCollector(registry=REGISTRY)
    platform_collector.PlatformCollector(registry=REGISTRY)
    gc_collector.GCCollector(registry=REGISTRY)

# From the rules engine's fraction of a millisecond to an LLM's slowest retries.
LATENCY_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
BreakerState = Literal["closed", "half_open", "open"]
BREAKER_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}

LEADS = Counter(
    "leadq_leads",
    "Leads qualified, by provider, model, prompt version and recommended action.",
    ["provider", "model", "prompt_version", "action"],
    registry=REGISTRY,
)
LEAD_FAILURES = Counter(
    "leadq_lead_failures",
    "Leads that got an error instead of a result, by provider and error code.",
    ["provider", "code"],
    registry=REGISTRY,
)
LEAD_SECONDS = Histogram(
    "leadq_lead_seconds",
    "End-to-end time to qualify one lead (retries included), by provider and model.",
    ["provider", "model"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
CALLS = Counter(
    "leadq_provider_calls",
    "Provider call attempts (retries count separately), by status: ok or the error code.",
    ["provider", "model", "status"],
    registry=REGISTRY,
)
CALL_ERRORS = Counter(
    "leadq_provider_errors",
    "Failed provider call attempts, by error code and exception class.",
    ["provider", "code", "error_class"],
    registry=REGISTRY,
)
CALL_SECONDS = Histogram(
    "leadq_provider_call_seconds",
    "Time of one provider call attempt, by provider and model.",
    ["provider", "model"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
TOKENS = Counter(
    "leadq_tokens",
    "Tokens the providers reported, by direction (input or output).",
    ["provider", "model", "direction"],
    registry=REGISTRY,
)
COST = Counter(
    "leadq_cost_usd",
    "Spend in USD from the price table (unpriced models add nothing).",
    ["provider", "model"],
    registry=REGISTRY,
)
CACHE = Counter(
    "leadq_cache_lookups",
    "Result cache lookups, by result (hit or miss).",
    ["result"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "leadq_retries",
    "Provider call retries, by the reason (the failed attempt's error code).",
    ["provider", "reason"],
    registry=REGISTRY,
)
RATE_WAITS = Counter(
    "leadq_rate_limit_waits",
    "Times a call waited for the rate limiter.",
    ["provider"],
    registry=REGISTRY,
)
RATE_WAIT_SECONDS = Counter(
    "leadq_rate_limit_wait_seconds",
    "Seconds spent waiting for the rate limiter.",
    ["provider"],
    registry=REGISTRY,
)
# Each worker process has breakers of its own. Across processes the worst live one counts
# ("livemax"): one worker's open breaker fails or reroutes its share of the leads, which is
# what the BreakerOpen alert (`max by (provider)`) is about. "max" would keep a dead
# worker's last state for good; with "livemax" a worker's value goes when it exits
# (`retire_process`) or is found dead at a scrape. Single-process mode ignores the mode.
BREAKER = Gauge(
    "leadq_breaker_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
# Per route of LEADQ_ROUTE_ABOVE / LEADQ_ROUTE_TO ("routed" or "default") and who answered:
# what routing the valuable leads to another model costs and how long it takes.
ROUTE_LEADS = Counter(
    "leadq_route_leads",
    "Leads qualified through the router, by route (routed or default), provider and model.",
    ["route", "provider", "model"],
    registry=REGISTRY,
)
ROUTE_FAILURES = Counter(
    "leadq_route_failures",
    "Leads through the router that got an error instead of a result, by route.",
    ["route"],
    registry=REGISTRY,
)
ROUTE_COST = Counter(
    "leadq_route_cost_usd",
    "Spend in USD of the router's results (the price table's), by route, provider and model.",
    ["route", "provider", "model"],
    registry=REGISTRY,
)
ROUTE_SECONDS = Histogram(
    "leadq_route_lead_seconds",
    "Time to qualify one lead through the router (fallbacks and escalation included), by "
    "route, provider and model.",
    ["route", "provider", "model"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
BUDGET_SWITCHES = Counter(
    "leadq_budget_switches",
    "Times the daily budget guard switched LLM calls over to the rules engine.",
    registry=REGISTRY,
)
UNSTORED = Counter(
    "leadq_results_unstored",
    "Results returned to the caller that the database could not store (it was unavailable).",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "leadq_http_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "leadq_webhook_deliveries",
    "Webhook delivery attempts, by result: delivered, retry (to be tried again) or failed "
    "(refused for good, or out of attempts).",
    ["result"],
    registry=REGISTRY,
)
# Every worker counts the same outbox table: across processes, the live ones' highest.
WEBHOOKS_PENDING = Gauge(
    "leadq_webhooks_pending",
    "Webhook messages in the outbox still to be delivered.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)


# The labelled children per (provider, model, prompt_version, action): `labels()` costs
# more than the increment, and the rules engine counts thousands of leads a second.
_LEAD_CHILDREN: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}


def observe_result(outcome: ResultOrError, seconds: float | None = None) -> None:
    """Count one lead's outcome; a result's own `latency_ms` is its time unless given."""
    if isinstance(outcome, QualificationResult):
        key = (outcome.provider, outcome.model, outcome.prompt_version, outcome.recommended_action)
        children = _LEAD_CHILDREN.get(key)
        if children is None:
            children = (LEADS.labels(*key), LEAD_SECONDS.labels(key[0], key[1]))
            _LEAD_CHILDREN[key] = children
        children[0].inc()
        children[1].observe(outcome.latency_ms / 1000 if seconds is None else seconds)
    elif isinstance(outcome, LeadError):
        LEAD_FAILURES.labels(outcome.provider or "", outcome.error).inc()


def observe_call(attempt: CallAttempt) -> None:
    """Count one provider call attempt: status, latency, tokens, cost and error class."""
    provider, model = attempt.provider, attempt.model
    CALLS.labels(provider, model, attempt.status).inc()
    CALL_SECONDS.labels(provider, model).observe(attempt.latency_ms / 1000)
    if attempt.input_tokens:
        TOKENS.labels(provider, model, "input").inc(attempt.input_tokens)
    if attempt.output_tokens:
        TOKENS.labels(provider, model, "output").inc(attempt.output_tokens)
    if attempt.cost_usd:
        COST.labels(provider, model).inc(attempt.cost_usd)
    if attempt.status != "ok":
        CALL_ERRORS.labels(provider, attempt.status, attempt.error_class or "").inc()


def count_retry(provider: str, reason: str) -> None:
    """One retry of a provider call; `reason` is the failed attempt's error code."""
    RETRIES.labels(provider, reason).inc()


def observe_rate_wait(provider: str, seconds: float) -> None:
    """One wait for the rate limiter, and how long it was."""
    RATE_WAITS.labels(provider).inc()
    RATE_WAIT_SECONDS.labels(provider).inc(max(0.0, seconds))


def set_breaker(provider: str, state: str) -> None:
    """The provider's circuit breaker moved to `state`."""
    BREAKER.labels(provider).set(BREAKER_VALUES[state])


def count_cache(hit: bool) -> None:
    """One result-cache lookup."""
    CACHE.labels("hit" if hit else "miss").inc()


def observe_route(route: str, result: QualificationResult, seconds: float) -> None:
    """One lead the router sent down `route`, answered by `result`'s provider and model."""
    labels = (route, result.provider, result.model)
    ROUTE_LEADS.labels(*labels).inc()
    ROUTE_SECONDS.labels(*labels).observe(max(0.0, seconds))
    if result.cost_usd:
        ROUTE_COST.labels(*labels).inc(result.cost_usd)


def observe_route_failure(route: str) -> None:
    """One lead the router sent down `route` that got an error."""
    ROUTE_FAILURES.labels(route).inc()


def count_budget_switch() -> None:
    """The daily budget was reached and LLM calls switched to the rules engine."""
    BUDGET_SWITCHES.inc()


def count_unstored(n: int) -> None:
    """`n` results went back to their caller without being stored."""
    if n:
        UNSTORED.inc(n)


def count_http(method: str, route: str, status: int) -> None:
    """One HTTP request, by its route template (never the raw path: ids would explode it)."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()


def count_webhook(result: Literal["delivered", "retry", "failed"]) -> None:
    """One webhook delivery attempt and what came of it."""
    WEBHOOK_DELIVERIES.labels(result).inc()


def set_webhooks_pending(n: int) -> None:
    """The outbox's pending messages, as last counted."""
    WEBHOOKS_PENDING.set(n)


# Submitted jobs, as the database says at each scrape (every process counts the same tables:
# the latest count stands).
JOB_CHUNKS = Gauge(
    "leadq_job_chunks",
    "Chunks of submitted jobs, by status: queued, running, done, failed, cancelled.",
    ["status"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
JOBS = Gauge(
    "leadq_jobs",
    "Submitted jobs, by status: queued, running, done, cancelled.",
    ["status"],
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
JOB_WORKERS = Gauge(
    "leadq_job_workers",
    "Job runners alive: `leadq worker` processes, and servers running jobs themselves.",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)


def set_job_gauges(counts: dict[str, Any]) -> None:
    """Chunks and jobs by status and the workers alive, as `storage.chunks.gauges` counts."""
    for status, n in counts["chunks"].items():
        JOB_CHUNKS.labels(status).set(n)
    for status, n in counts["jobs"].items():
        JOBS.labels(status).set(n)
    JOB_WORKERS.set(counts["workers"])


def exposition() -> bytes:
    """Every metric in the Prometheus text format: this process's, or in multiprocess mode
    all the processes' added up (gauges as their `multiprocess_mode` says)."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    _forget_dead_processes(directory)
    registry = CollectorRegistry()  # a fresh one per scrape, as prometheus-client documents
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def retire_process() -> None:
    """In multiprocess mode, drop this exiting process's live gauges (its breaker states);
    its counters and histograms stay in the totals. Does nothing in a single process."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid(), os.environ["PROMETHEUS_MULTIPROC_DIR"])


# prometheus-client's files of live-mode gauges: `gauge_livemax_<pid>.db` and the like.
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def _forget_dead_processes(directory: str) -> None:
    """Drop the live gauges of processes that ended without `retire_process` (a crashed or
    killed worker, which uvicorn replaces): their last breaker state is no longer true."""
    for name in os.listdir(directory):
        match = _LIVE_GAUGE_FILE.fullmatch(name)
        if match and not _alive(int(match[1])):
            with suppress(FileNotFoundError):  # another worker's scrape removed it first
                multiprocess.mark_process_dead(int(match[1]), directory)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: assume alive
        return True
    try:
        os.kill(pid, 0)  # signal 0: checks that the process exists, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, under another user
        return True
    return True


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def metric_names() -> set[str]:
    """Every series name the registry can expose (what alert rules may refer to), including
    labelled metrics that have no sample yet."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }
