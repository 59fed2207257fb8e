"""What the service and the qualifier report as leads finish and calls are made: the metrics
and one log event each (`lead.qualified`, `lead.failed`, `provider.call`).

Names, emails, company names and free text go into events only with `LEADQ_LOG_PII=1`;
keys never (they are not in any event, and the formatter scrubs them besides)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, QualificationResult, ResultOrError
from leadq.observability.logs import EVENTS, log_event
from leadq.observability.metrics import observe_call, observe_result

PII_FIELDS = ("lead_name", "email", "company_name", "job_title")


def _who(lead: LeadInput | None, pii: bool) -> dict[str, Any]:
    if lead is None:
        return {}
    who: dict[str, Any] = {"lead_id": lead.lead_id}
    if pii:
        who.update((name, getattr(lead, name, None)) for name in PII_FIELDS)
    return who


def _result_fields(r: QualificationResult, pii: bool) -> dict[str, Any]:
    fields = r.flat()
    fields["action"] = fields.pop("recommended_action")
    fields["flags"] = fields["flags"] or None
    fields["qualification_id"] = r.qualification_id
    fields["lead_ref"] = r.lead_ref
    if pii:
        fields["reasoning"] = r.reasoning
    return fields


def observe_results(
    pairs: Sequence[tuple[LeadInput | None, ResultOrError]], pii: bool = False
) -> None:
    """Metrics and a `lead.qualified` / `lead.failed` event for each lead's outcome."""
    info = EVENTS.isEnabledFor(logging.INFO)  # build no event that would be dropped
    for lead, outcome in pairs:
        observe_result(outcome)
        if isinstance(outcome, QualificationResult):
            if info:
                log_event("lead.qualified", **_who(lead, pii), **_result_fields(outcome, pii))
        else:
            who = {**_who(lead, pii), "lead_id": outcome.lead_id}
            log_event(
                "lead.failed",
                logging.WARNING,
                **who,
                provider=outcome.provider,
                error=outcome.error,
                retryable=outcome.retryable,
                field=outcome.field,
                message=outcome.message if pii else None,
            )


def observe_failure(lead: LeadInput, exc: BaseException, pii: bool = False) -> None:
    """`observe_results` for a lead whose qualification raised."""
    observe_results([(lead, LeadError.from_exception(exc, lead.lead_id))], pii)


def record_call(attempt: CallAttempt) -> None:
    """Metrics and a `provider.call` event for one provider call attempt."""
    observe_call(attempt)
    log_event(
        "provider.call",
        logging.INFO if attempt.status == "ok" else logging.WARNING,
        provider=attempt.provider,
        model=attempt.model,
        status=attempt.status,
        http_status=attempt.http_status,
        latency_ms=attempt.latency_ms,
        input_tokens=attempt.input_tokens,
        output_tokens=attempt.output_tokens,
        cost_usd=attempt.cost_usd,
        error_class=attempt.error_class,
        lead_id=attempt.lead.lead_id,
    )


def observed(sink: Callable[[CallAttempt], None]) -> Callable[[CallAttempt], None]:
    """`sink` (the call log's), reporting each attempt to metrics and the log first."""

    def report(attempt: CallAttempt) -> None:
        record_call(attempt)
        sink(attempt)

    return report
