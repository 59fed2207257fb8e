"""Response envelopes (`{"status": "success", "data": ...}`, the shape the original design's
clients read) and error bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

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


def error_body(
    code: str, message: str, *, retryable: bool = False, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return ErrorResponse(
        error=ErrorDetail(code=code, message=message, retryable=retryable, fields=fields)
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
