"""Typed failures. Each keeps what the HTTP layer and the CLI need: a code, an HTTP status,
whether retrying could help, and (for bad input) the fields at fault.

    LeadqError
    ├── InvalidLeadError          422 invalid_input: the lead itself is wrong
    ├── InvalidFile               422 invalid_file: a submitted file cannot be read (row, byte)
    ├── ProviderNotConfigured     503: a key or URL is missing
    ├── PayloadTooLarge           413: a body or batch over its limit
    ├── NotFound                  404: no such stored record
    ├── Busy                      429: too many batches at once here (retryable, Retry-After)
    ├── StorageUnavailable        503: the database did not answer in time (retryable)
    ├── Conflict                  409: the request conflicts with the state (a no-signal model)
    ├── NotEnoughData             422: too few outcomes to train a model, and how many more
    ├── NotInstalled              501: an optional part (the learn extra) is not installed
    └── ProviderError             502: no usable answer from the provider
        ├── ProviderRejected      502: 400/401/403/404, retrying will not help
        ├── ProviderUnavailable   503: 5xx or no connection (retryable)
        │   └── RateLimited       503: a 429, with its reset (retryable)
        │       └── QueueTimeout  503: leadq's own rate-limit queue took too long
        ├── ProviderTimeout       504: no answer in time (retryable)
        └── BadProviderAnswer     502: not JSON, off-schema or cut short (retryable)
"""

from __future__ import annotations

from typing import Any


class LeadqError(Exception):
    """Base class: `code` names the failure, `retryable` says whether trying again may help."""

    code = "error"
    http_status = 500
    retryable = False

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider


class InvalidLeadError(LeadqError, ValueError):
    """The lead itself is wrong; `errors` lists `{"field", "message"}` for each problem."""

    code = "invalid_input"
    http_status = 422

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"invalid lead: {summary}")

    @property
    def field(self) -> str | None:
        return self.errors[0]["field"] if self.errors else None

    @classmethod
    def from_pydantic(cls, exc: Any) -> InvalidLeadError:
        """Build from a pydantic `ValidationError`, naming each field by its dotted path."""
        errors = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ())) or "lead"
            msg = err.get("msg", "invalid")
            if err.get("type") == "missing" or (
                err.get("type") == "string_type" and err.get("input") is None
            ):
                msg = "required, but missing or blank"
            errors.append({"field": loc, "message": msg})
        return cls(errors)


class InvalidFile(LeadqError, ValueError):
    """A submitted file of leads cannot be read as a whole: its format, its header, a row
    the CSV reader cannot split, its size; the message names the row or byte."""

    code = "invalid_file"
    http_status = 422


class ProviderNotConfigured(LeadqError):
    """The chosen provider lacks a key or URL."""

    code = "provider_not_configured"
    http_status = 503


class ProviderError(LeadqError):
    """The LLM provider failed to give a usable answer."""

    code = "provider_error"
    http_status = 502


class ProviderRejected(ProviderError):
    """The provider refused the request (400/401/403/404...): retrying will not help."""

    code = "provider_rejected"
    http_status = 502

    def __init__(self, message: str, *, status: int | None = None, provider: str | None = None):
        super().__init__(message, provider=provider)
        self.status = status


class ProviderUnavailable(ProviderError):
    """5xx answers or connection failures."""

    code = "provider_unavailable"
    http_status = 503
    retryable = True


class RateLimited(ProviderUnavailable):
    """429: over the provider's request or token limit. `retry_after` in seconds when known."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, provider: str | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.retry_after = retry_after


class QueueTimeout(RateLimited):
    """A lead waited in leadq's own queue for the provider's rate limit longer than
    `LEADQ_QUEUE_TIMEOUT`; the provider was not called for it. Retrying later may help."""

    code = "rate_limited"


class ProviderTimeout(ProviderError):
    """No (complete) answer within the per-call timeout or the per-lead deadline."""

    code = "provider_timeout"
    http_status = 504
    retryable = True


class BadProviderAnswer(ProviderError):
    """The answer was not JSON, did not fit the schema, or was cut short. `answer` keeps the
    unusable text, shown to the model when it is asked again (the repair attempt)."""

    code = "bad_provider_answer"
    http_status = 502
    retryable = True

    def __init__(
        self, message: str, *, provider: str | None = None, answer: str | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.answer = answer


class PayloadTooLarge(LeadqError):
    """A body or batch over the configured limit."""

    code = "payload_too_large"
    http_status = 413


class NotFound(LeadqError):
    """No such stored lead or qualification."""

    code = "not_found"
    http_status = 404


class Busy(LeadqError):
    """This process runs as many batches as it may at once; try again shortly."""

    code = "busy"
    http_status = 429
    retryable = True

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageUnavailable(LeadqError):
    """The database refused the connection, timed out or went away: nothing about the
    request is wrong, and the same request may succeed shortly."""

    code = "database_unavailable"
    http_status = 503
    retryable = True


class Conflict(LeadqError):
    """The request conflicts with the state: a no-signal model activated without `force`,
    or a training while another one runs."""

    code = "conflict"
    http_status = 409


class NotEnoughData(LeadqError):
    """The stored leads cannot train a model (too few of an outcome), and how many more."""

    code = "not_enough_data"
    http_status = 422


class NotInstalled(LeadqError):
    """An optional part of leadq is not installed (training needs the `learn` extra)."""

    code = "not_installed"
    http_status = 501
