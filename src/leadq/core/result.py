"""What comes out for each lead: a bounded result, or an error saying what failed."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Score = Annotated[float, Field(ge=0.0, le=1.0)]


# The model reads this docstring: it is the answer schema's description of the field.
class Action(StrEnum):
    """The next step for a lead."""

    IMMEDIATE_OUTREACH = "immediate_outreach"
    QUALIFIED_NURTURE = "qualified_nurture"
    FOLLOWUP_RESEARCH = "followup_research"
    NOT_QUALIFIED = "not_qualified"
    MANUAL_REVIEW = "manual_review"


class Flag(StrEnum):
    """Marks on a result that a person should be able to see."""

    SCORE_CLAMPED = "score_clamped"
    ACTION_ADJUSTED = "action_adjusted"
    MISSING_CRITICAL_INFO = "missing_critical_info"
    SUSPECTED_INJECTION = "suspected_injection"
    LIST_TRUNCATED = "list_truncated"
    FALLBACK_USED = "fallback_used"  # the first provider failed or its breaker was open
    ESCALATED = "escalated"  # low confidence: a stronger model answered (see escalated_from)
    ESCALATION_FAILED = "escalation_failed"  # low confidence, and the stronger model failed
    BUDGET_EXCEEDED = "budget_exceeded"  # today's LLM spend reached LEADQ_DAILY_BUDGET_USD
    # The rules engine rated the lead at or above LEADQ_ROUTE_ABOVE before the call, so it was
    # sent to LEADQ_ROUTE_TO instead of LEADQ_PROVIDER (provider and model say who answered).
    ROUTED = "routed"
    # Free text over its limit (engagement_history, additional_context: 4000 characters; an
    # attribute's text: 1000) was cut, not refused: the result was computed from the cut text.
    TEXT_TRUNCATED = "text_truncated"


class Usage(BaseModel):
    """Tokens the provider reported for the call that produced the result."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0


class QualificationResult(BaseModel):
    """A validated qualification. Every score is in [0, 1]; `overall_score` is the configured
    weighted mean of the four component scores, computed in code."""

    model_config = ConfigDict(extra="forbid")

    # The result's field sets, declared once: the policy, the writers, the log events, the
    # store and escalation read these instead of listing fields of their own.
    SCORE_FIELDS: ClassVar[tuple[str, ...]] = (
        "overall_score",
        "fit_score",
        "budget_score",
        "urgency_score",
        "authority_score",
        "confidence",
    )
    TEXT_FIELDS: ClassVar[tuple[str, ...]] = (
        "reasoning",
        "reasoning_for_action",
        "suggested_messaging",
    )
    LIST_FIELDS: ClassVar[tuple[str, ...]] = (
        "key_insights",
        "positive_indicators",
        "risk_factors",
        "follow_up_questions",
    )
    SOURCE_FIELDS: ClassVar[tuple[str, ...]] = (
        "provider",
        "model",
        "prompt_version",
        "profile_version",
    )
    # What `escalated_from` keeps of the first answer.
    SUMMARY_FIELDS: ClassVar[tuple[str, ...]] = (
        *SOURCE_FIELDS,
        *SCORE_FIELDS,
        "recommended_action",
        "reasoning",
        "latency_ms",
        "usage",
        "cost_usd",
        "flags",
    )

    overall_score: Score
    fit_score: Score
    budget_score: Score
    urgency_score: Score
    authority_score: Score
    confidence: Score
    reasoning: str
    key_insights: list[str] = Field(default_factory=list)
    risk_factors: list[str] = Field(default_factory=list)
    positive_indicators: list[str] = Field(default_factory=list)
    recommended_action: Action
    reasoning_for_action: str
    suggested_messaging: str | None = None
    follow_up_questions: list[str] = Field(default_factory=list)

    lead_id: str | None = None
    provider: str
    model: str
    prompt_version: str
    profile_version: str | None = Field(
        None,
        description="The seller profile the result was scored against: a short hash of its "
        "content (GET /api/profile). Null on results stored before profiles had versions.",
    )
    latency_ms: float = Field(ge=0, description="Time to the result, retries and queue included.")
    queue_ms: float = Field(
        0.0,
        ge=0,
        description="Of latency_ms, the wait in leadq's own queue for the provider's rate "
        "limit (and a 429's reset): not the provider's time.",
    )
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = Field(
        None, description="Usage times the price table; null if unpriced."
    )
    cached: bool = False
    flags: list[Flag] = Field(default_factory=list)
    escalated_from: dict[str, Any] | None = Field(
        None,
        description="The first answer when a low-confidence result was escalated to a "
        "stronger model: provider, model, scores, action, confidence, usage and cost.",
    )
    qualification_id: int | None = Field(None, description="Stored qualification's id.")
    lead_ref: int | None = Field(None, description="Stored lead's id (GET /api/leads/{id}).")
    conversion_probability: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="The calibrated probability that the lead converts, from the active "
        "conversion model (`leadq train`, `leadq model activate`); null with no active model.",
    )
    model_version: int | None = Field(
        None, description="The id of the conversion model that gave conversion_probability."
    )
    factors: list[str] | None = Field(
        None,
        description="The features that raised the probability most and those that lowered it "
        'most (three each), in words: "Lead Source is Webinar: +12 points".',
    )
    action_basis: Literal["score", "probability"] = Field(
        "score",
        description="What chose recommended_action: `score`, the overall score's bands (and "
        "the policy's manual reviews); `probability`, the active conversion model's "
        "probability bands (LEADQ_ACTION_BASIS=probability).",
    )

    def flat(self) -> dict[str, Any]:
        """The result's scalar columns (scores, action, source, tokens, cost, latency, cached,
        flags), as the store's columns and the log events carry them. Written out, not
        dumped, as it runs for every stored lead."""
        return {
            "overall_score": self.overall_score,
            "fit_score": self.fit_score,
            "budget_score": self.budget_score,
            "urgency_score": self.urgency_score,
            "authority_score": self.authority_score,
            "confidence": self.confidence,
            "recommended_action": self.recommended_action.value,
            "provider": self.provider,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
            "cached": self.cached,
            "flags": [f.value for f in self.flags],
        }


class LeadError(BaseModel):
    """Why one lead has no result. `retryable` says whether trying again could help."""

    error: str = Field(description="Failure code, e.g. invalid_input, provider_timeout.")
    message: str
    retryable: bool
    field: str | None = Field(None, description="The input field at fault, for invalid_input.")
    provider: str | None = None
    lead_id: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, lead_id: str | None = None) -> LeadError:
        """Describe any failure; unknown exceptions become `internal_error` without internals."""
        from leadq.core.errors import InvalidLeadError, LeadqError
        from leadq.core.redact import redact

        if isinstance(exc, InvalidLeadError):
            return cls(
                error=exc.code,
                message=redact(exc.message),
                retryable=False,
                field=exc.field,
                lead_id=lead_id,
            )
        if isinstance(exc, LeadqError):
            return cls(
                error=exc.code,
                message=redact(exc.message),
                retryable=exc.retryable,
                provider=exc.provider,
                lead_id=lead_id,
            )
        return cls(
            error="internal_error",
            message=f"{type(exc).__name__} while qualifying",
            retryable=False,
            lead_id=lead_id,
        )


ResultOrError = QualificationResult | LeadError


class PartialResult(BaseModel):
    """The fields the model has produced so far, while it streams (scores already clamped)."""

    fields: dict[str, Any]
