"""Prometheus metrics, in one registry of leadq's own, with a one-line helper for each thing
that happens (a lead finished, a provider call, a retry, a rate-limit wait, a breaker move,
a cache lookup, a budget switch).

Our own `CollectorRegistry` rather than prometheus-client's global one: an application
that imports leadq keeps its default registry free of our names (no duplicate-timeseries
errors), and `GET /metrics` shows exactly leadq's metrics plus the process collectors we
add here. Metrics are per process; `leadq serve` runs one."""

from __future__ import annotations

from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from leadq.core.calls import CallAttempt
from leadq.core.result import LeadError, QualificationResult, ResultOrError

REGISTRY = CollectorRegistry(auto_describe=True)
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
BREAKER = Gauge(
    "leadq_breaker_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
    ["provider"],
    registry=REGISTRY,
)
BUDGET_SWITCHES = Counter(
    "leadq_budget_switches",
    "Times the daily budget guard switched LLM calls over to the rules engine.",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "leadq_http_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
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


def count_budget_switch() -> None:
    """The daily budget was reached and LLM calls switched to the rules engine."""
    BUDGET_SWITCHES.inc()


def count_http(method: str, route: str, status: int) -> None:
    """One HTTP request, by its route template (never the raw path: ids would explode it)."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()


def exposition() -> bytes:
    """Every metric in the Prometheus text format."""
    return generate_latest(REGISTRY)


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def metric_names() -> set[str]:
    """Every series name the registry can expose (what alert rules may refer to), including
    labelled metrics that have no sample yet."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }
