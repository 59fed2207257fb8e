"""Response envelopes (`{"status": "success", "data": ...}`, the shape the original design's
clients read) and error bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadq.core.outcomes import Outcome
from leadq.core.redact import redact
from leadq.core.result import LeadError, QualificationResult


class QualifyResponse(BaseModel):
    status: Literal["success"] = "success"
    data: QualificationResult


class FailedLead(BaseModel):
    """Stands in a batch where a lead failed."""

    index: int
    error: LeadError


class BatchResponse(BaseModel):
    status: Literal["success"] = "success"
    count: int
    succeeded: int
    failed: int
    data: list[QualificationResult | FailedLead] = Field(
        description="One entry per input lead, in input order."
    )


class ErrorDetail(BaseModel):
    code: str = Field(
        description="invalid_input, unauthorized, payload_too_large, "
        "provider_timeout, provider_unavailable, rate_limited, ..."
    )
    message: str
    retryable: bool = False
    fields: list[dict[str, str]] | None = Field(
        None, description="For invalid_input: each wrong field and what is wrong with it."
    )


class ErrorResponse(BaseModel):
    status: Literal["error"] = "error"
    error: ErrorDetail


class HealthResponse(BaseModel):
    status: Literal["healthy", "degraded"]
    service: str = "leadq"
    version: str
    provider: str
    model: str
    configured: bool
    detail: str | None = None
    backend: dict[str, Any] = Field(default_factory=dict)
    database: dict[str, Any] = Field(default_factory=dict)
    cache: dict[str, Any] = Field(
        default_factory=dict,
        description="`redis`: off, ok or unavailable (the cache then answers from the "
        "database alone); `pending_erasures`: erased leads whose Redis copies remain.",
    )
    score_weights: dict[str, float] = Field(
        default_factory=dict,
        description="The share of each component score (fit, budget, urgency, authority) in "
        "`overall_score`, summing to 1 (LEADQ_SCORE_WEIGHTS, normalised).",
    )


# ---- stored leads and qualifications -------------------------------------------------------


class LatestOutcome(BaseModel):
    """A lead's latest outcome: the last one recorded (a later record supersedes it)."""

    outcome: Outcome
    date: str = Field(description="The day it happened (ISO date).")


class RecordedOutcome(LatestOutcome):
    """A won/lost/... outcome, recorded against the lead's latest qualification."""

    id: int
    lead_ref: int
    recorded_at: str
    qualification_id: int | None = None
    prompt_version: str | None = None
    recommended_action: str | None = None


class StoredLead(BaseModel):
    """A stored lead with its latest score and action."""

    id: int = Field(description="The stored lead's id (`lead_ref` on results).")
    lead_id: str | None = Field(None, description="Your id for the lead, when you sent one.")
    lead_name: str
    email: str | None = None
    company_name: str
    latest_score: float | None = None
    latest_action: str | None = None
    latest_qualification_id: int | None = None
    qualification_count: int
    created_at: str
    updated_at: str
    latest_outcome: LatestOutcome | None = Field(
        None, description="Won, lost, ...: the last outcome recorded; null before any."
    )


class HistoryPoint(BaseModel):
    """One qualification on a lead's score history."""

    qualification_id: int
    at: str
    overall_score: float
    recommended_action: str
    provider: str
    model: str


class StoredQualification(QualificationResult):
    """A stored result, with the cleaned input it was computed from and that input's hash."""

    model_config = ConfigDict(extra="allow")  # a result stored by an older version may carry more

    created_at: str
    input: dict[str, Any]
    input_hash: str = Field(description="SHA-256 of the normalised input.")


class LeadDetail(StoredLead):
    history: list[HistoryPoint] = Field(description="Score and action at each qualification.")
    qualifications: list[StoredQualification] = Field(description="Oldest first.")
    outcomes: list[RecordedOutcome] = Field(
        default_factory=list, description="Every recorded outcome, the latest first."
    )


class LeadPage(BaseModel):
    status: Literal["success"] = "success"
    total: int
    limit: int
    offset: int
    data: list[StoredLead]


class LeadResponse(BaseModel):
    status: Literal["success"] = "success"
    data: LeadDetail


class QualificationResponse(BaseModel):
    status: Literal["success"] = "success"
    data: StoredQualification


class ErasedResponse(BaseModel):
    status: Literal["success"] = "success"
    erased: int = Field(description="The erased lead's id.")
    cache: Literal["cleared", "pending"] = Field(
        "cleared",
        description="`pending`: Redis was unreachable; its copies are removed as soon as it "
        "answers, and no Redis hit is served until then.",
    )


class OutcomeResponse(BaseModel):
    status: Literal["success"] = "success"
    data: RecordedOutcome


class OutcomeRecorded(BaseModel):
    """An item of `POST /api/outcomes` that was recorded."""

    index: int = Field(description="Its place in the request, from 0.")
    status: Literal["recorded"] = "recorded"
    data: RecordedOutcome


class OutcomeFailed(BaseModel):
    """An item of `POST /api/outcomes` that was not: `not_found` (no such lead) or
    `invalid_input` (an unknown outcome or stage, a date out of range)."""

    index: int = Field(description="Its place in the request, from 0.")
    status: Literal["error"] = "error"
    error: ErrorDetail


class OutcomesResponse(BaseModel):
    status: Literal["success"] = "success"
    count: int
    recorded: int
    failed: int
    data: list[OutcomeRecorded | OutcomeFailed] = Field(
        description="One entry per item, in request order."
    )


# ---- stats and experiments ----------------------------------------------------------------


class Percentiles(BaseModel):
    p50: float | None = None
    p95: float | None = None


class PeriodTotals(BaseModel):
    """What the stored qualifications and provider calls of a period add up to."""

    model_config = ConfigDict(extra="allow")

    leads: int
    cached: int
    actions: dict[str, int]
    calls: int
    failed_calls: int
    error_rate: float | None = None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: Percentiles = Field(default_factory=Percentiles)
    call_latency_ms: Percentiles = Field(default_factory=Percentiles)


class ProviderTotals(PeriodTotals):
    provider: str
    model: str


class RouteTotals(BaseModel):
    """The stored results of one route of LEADQ_ROUTE_ABOVE / LEADQ_ROUTE_TO and who answered:
    what routing the valuable leads to another model costs, and how long it takes."""

    route: Literal["routed", "default"] = Field(
        description="routed: the rules engine rated the lead at or above LEADQ_ROUTE_ABOVE "
        "and it went to LEADQ_ROUTE_TO (the `routed` flag); default: every other lead."
    )
    provider: str
    model: str
    leads: int
    cached: int
    cost_usd: float = Field(
        description="What the results cost (the spend of retries and failed calls is in "
        "by_provider)."
    )
    latency_ms: Percentiles = Field(default_factory=Percentiles)


class ActionConversion(BaseModel):
    """Leads whose latest outcome is dated in the period, by the recommended action of the
    qualification it was recorded against."""

    action: str | None = Field(description="null: that qualification is no longer stored.")
    count: int = Field(description="Leads with an outcome.")
    won: int
    lost: int
    other: int = Field(description="no_response and disqualified.")
    conversion_rate: float | None = Field(
        description="won / (won + lost); null while none is won or lost."
    )


class PeriodStats(BaseModel):
    since: str
    until: str
    totals: PeriodTotals
    by_provider: list[ProviderTotals]
    by_route: list[RouteTotals] = Field(
        default_factory=list, description="Per route (routed or default) and who answered."
    )
    conversion_by_action: list[ActionConversion] = Field(
        default_factory=list, description="Does a lead sent to outreach convert more?"
    )
    model: ActiveModelStats | None = Field(
        None,
        description="The active conversion model and its drift (null: none is active).",
    )


class StatsResponse(BaseModel):
    status: Literal["success"] = "success"
    data: PeriodStats


class ExperimentsResponse(BaseModel):
    """Per prompt variant: volumes, scores, cost and (with outcomes) conversion; then each
    pair of variants compared."""

    status: Literal["success"] = "success"
    since: str
    until: str
    variants: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    configured: dict[str, Any] = Field(description="The experiment's salt and weights.")


class ProfileResponse(BaseModel):
    """The seller profile in force (LEADQ_ICP_FILE, else the packaged default)."""

    status: Literal["success"] = "success"
    version: str = Field(description="A short hash of the content; results carry it.")
    source: str = Field(description="The file it was read from.")
    offer_given: bool = Field(description="False: the file has no [offer]; the default's is used.")
    profile: dict[str, Any] = Field(
        description="The content: `offer` (what the LLM scores fit against) and the rules "
        "engine's industries, size and revenue ranges, title keywords and fit weights."
    )


# ---- webhooks ------------------------------------------------------------------------------


class WebhookDelivery(BaseModel):
    """One message of the webhook outbox and how its delivery went."""

    id: str = Field(
        description="The `webhook-id` header: the same on every attempt, for receivers to "
        "drop repeats."
    )
    event_type: str = Field(description="e.g. lead.qualified")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    lead_ref: int | None = Field(None, description="The stored lead it is about, if any.")
    created_at: str
    next_attempt_at: str | None = Field(None, description="When a pending one is tried next.")
    delivered_at: str | None = None
    last_error: str | None = Field(None, description="What went wrong at the last failure.")


class WebhookDeliveries(BaseModel):
    status: Literal["success"] = "success"
    counts: dict[str, int] = Field(description="Messages pending, delivered and failed.")
    data: list[WebhookDelivery] = Field(description="Newest first.")


def error_body(
    code: str, message: str, *, retryable: bool = False, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return ErrorResponse(
        error=ErrorDetail(code=code, message=redact(message), retryable=retryable, fields=fields)
    ).model_dump(exclude_none=True)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key."},
    413: {"model": ErrorResponse, "description": "Body or batch larger than the limit."},
    422: {"model": ErrorResponse, "description": "Invalid lead; `fields` names each problem."},
    502: {"model": ErrorResponse, "description": "The provider gave a bad answer or refused."},
    503: {
        "model": ErrorResponse,
        "description": "Provider unavailable, rate limited beyond "
        "the retry budget, or not configured.",
    },
    504: {"model": ErrorResponse, "description": "The provider did not answer in time."},
}


# ---- conversion models -----------------------------------------------------------------------


class ModelSummary(BaseModel):
    """A stored conversion model as listings show it: no report tables, no weights."""

    id: int
    created_at: str
    label: str = Field(description="What counted as converted when it was trained.")
    source: str = Field(description="The file or the stored leads it was trained on.")
    rows: int
    converted: int
    not_converted: int
    fingerprint: str = Field(description="sha256 of the rows: the same data, the same value.")
    auc: float | None = Field(None, description="AUC on data the model did not see.")
    auc_ci95: list[float] | None = Field(None, description="The AUC's 95% interval.")
    brier: float | None = None
    verdict: str | None = Field(None, description='"signal" or "no signal".')
    active: bool = Field(description="Whether new results carry this model's probability.")
    activated_at: str | None = None


class ModelDrift(BaseModel):
    """How a model's predictions compare with what happened since: over the leads it scored
    whose latest outcome is won or lost."""

    status: Literal["current", "out_of_date", "not_enough_outcomes"]
    reasons: list[str] = Field(description="Why it is out of date, in words (empty if not).")
    rule: str = Field(description="When a model is called out of date.")
    outcomes: int = Field(description="Leads it scored with a won or lost outcome since.")
    won: int
    predicted: float | None = Field(None, description="Their mean predicted probability.")
    observed: float | None = Field(None, description="Their observed conversion (won share).")
    observed_ci95: list[float] | None = Field(None, description="Its 95% (Wilson) interval.")
    expected_ci95: list[float] | None = Field(
        None, description="Where the observed conversion should fall if the model is right."
    )
    auc: float | None = Field(None, description="On these outcomes (needs won and lost).")
    calibration_table: list[dict[str, Any]] = Field(
        description="Per probability bin: leads, mean predicted, observed conversion."
    )
    age_days: float = Field(description="Days since it was trained.")
    max_age_days: int = Field(description="LEADQ_MODEL_MAX_AGE_DAYS.")
    min_outcomes: int = Field(description="Outcomes needed before predictions are judged.")


class ModelDetail(ModelSummary):
    report: dict[str, Any] = Field(
        description="The full evaluation report, as `leadq model show` renders it."
    )
    drift: ModelDrift = Field(description="Its predictions beside the outcomes recorded since.")


class ActiveModelStats(ModelSummary):
    """The active conversion model and its drift, over every outcome recorded on the leads it
    scored (not only the period's)."""

    drift: ModelDrift


class ModelList(BaseModel):
    status: Literal["success"] = "success"
    data: list[ModelSummary] = Field(description="Newest first.")


class ModelResponse(BaseModel):
    status: Literal["success"] = "success"
    data: ModelDetail


class ModelActivated(BaseModel):
    status: Literal["success"] = "success"
    data: ModelSummary


class ModelDeactivated(BaseModel):
    status: Literal["success"] = "success"
    deactivated: int | None = Field(description="The model that was active, if any.")


class TrainRequest(BaseModel):
    """What to train on: `stored`, the stored leads with a recorded won/lost outcome; or
    `file`, past leads in a CSV or JSONL file (`leadq train FILE --label ... --positive ...`),
    its text in `content`."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["stored", "file"] = "stored"
    filename: str | None = Field(
        None,
        max_length=300,
        description="With `file`: its name; .jsonl, .ndjson or .json is read as JSON lines, "
        "anything else as CSV.",
    )
    content: str | None = Field(
        None, description="With `file`: the file's text (up to LEADQ_MAX_FILE_BYTES)."
    )
    label: str | None = Field(
        None, max_length=200, description="With `file`: the column with each lead's outcome."
    )
    positive: list[str] | None = Field(
        None,
        max_length=50,
        description="With `file`: the label's values that mean converted, e.g. `1` or "
        "`Closed Won`.",
    )
    date_column: str | None = Field(
        None,
        max_length=200,
        description="With `file`, optional: a date column; the latest 20% of leads are the test "
        "set. Never a feature.",
    )

    @model_validator(mode="after")
    def _file_needs_its_parts(self) -> TrainRequest:
        if self.source == "file":
            missing = [n for n in ("content", "label") if not (getattr(self, n) or "").strip()]
            if not any(v.strip() for v in self.positive or ()):
                missing.append("positive")
            if missing:
                raise ValueError(f"with source file, give {', '.join(missing)}")
        return self


class TrainingStatus(BaseModel):
    training_id: str
    state: Literal["running", "done", "failed"]
    source: str = Field("", description="What it trains on: the stored leads, or the file.")
    started_at: str
    finished_at: str | None = None
    model_id: int | None = Field(None, description="When done: the new (inactive) model.")
    verdict: str | None = Field(None, description='When done: "signal" or "no signal".')
    error: str | None = Field(None, description="When failed: why.")


class TrainingResponse(BaseModel):
    status: Literal["success"] = "success"
    data: TrainingStatus


# ---- submitted jobs --------------------------------------------------------------------------


class ChunkCounts(BaseModel):
    """A submitted job's chunks (the workers' tasks) by state."""

    queued: int
    running: int
    done: int
    failed: int = Field(description="Tried too often: their rows got an error each.")
    cancelled: int


class JobStatus(BaseModel):
    """A job and how far it got. Poll it for progress; `status` ends at `done` or
    `cancelled`."""

    id: str
    kind: Literal["api", "file"] = Field(
        description="`api`: submitted to POST /api/jobs; `file`: a `leadq qualify` run."
    )
    source: str = Field(description="The file name given, or what was submitted.")
    status: Literal["queued", "running", "done", "cancelled", "incomplete"] = Field(
        description="`incomplete`: a `leadq qualify` job that has not finished (its command "
        "may still run, or `--resume` continues it)."
    )
    total: int = Field(description="Rows submitted.")
    done: int = Field(description="Rows finished: succeeded + failed.")
    succeeded: int
    failed: int = Field(description="Rows with an error (an invalid lead, a provider failure).")
    pending: int
    rate: float | None = Field(None, description="Rows finished a second since it started.")
    eta_seconds: float | None = Field(None, description="At that rate, seconds to the end.")
    chunks: ChunkCounts | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    cancelled_at: str | None = None
    warnings: list[str] = Field(
        default_factory=list, description="What reading the file refused or ignored."
    )


class JobResponse(BaseModel):
    status: Literal["success"] = "success"
    data: JobStatus


class JobRetried(BaseModel):
    status: Literal["success"] = "success"
    reopened: int = Field(description="Failed rows put back to be qualified again.")
    data: JobStatus


class JobList(BaseModel):
    status: Literal["success"] = "success"
    data: list[JobStatus] = Field(description="Newest first.")
