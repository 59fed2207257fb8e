"""The record of one provider call attempt, as the LLM backend reports it. `latency_ms` is
the provider's time; `queue_ms` the wait before it in leadq's own rate-limit queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from leadq.core.lead import LeadInput


@dataclass(slots=True)
class CallAttempt:
    lead: LeadInput
    provider: str
    model: str
    status: str  # "ok" or the error code
    latency_ms: float
    http_status: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    error_class: str | None = None
    queue_ms: float = 0.0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


CallSink = Callable[[CallAttempt], None]  # where each attempt is reported (the call log)
