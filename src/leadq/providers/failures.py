"""Turn what the OpenAI SDK, httpx or LangChain raised into leadq's typed errors, so that the
caller can tell a wrong key (fix the config) from a 429 (wait) from a bad answer (retry)."""

from __future__ import annotations

import httpx
import openai

from leadq.errors import (
    BadProviderAnswer,
    LeadqError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from leadq.providers.catalog import ProviderInfo
from leadq.providers.ratelimit import retry_after
from leadq.security.redact import redact


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    text = body.get("message") or (body.get("error") or {}).get("message") or exc.message
    return redact(str(text))[:300]  # a provider may quote the key it was sent


def classify(exc: BaseException, info: ProviderInfo, model: str, key_env: str) -> LeadqError | None:
    """The leadq error for a failure of a call to `info`'s provider, or None when the
    failure is not the provider's (a bug of ours must not be reported as a bad answer)."""
    name = info.name
    if isinstance(exc, LeadqError):
        return exc
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError)):
        return ProviderTimeout(f"{name} did not answer within LEADQ_TIMEOUT", provider=name)
    if isinstance(exc, openai.RateLimitError):
        wait = retry_after(exc.response.headers)
        return RateLimited(f"{name} rate limit: {_message(exc)}", retry_after=wait, provider=name)
    if isinstance(exc, openai.AuthenticationError):
        return ProviderRejected(
            f"{name} rejected the API key (HTTP 401): check {key_env}", status=401, provider=name
        )
    if isinstance(exc, openai.NotFoundError):
        return ProviderRejected(
            f"{name} answered 404 for model {model!r}: check LEADQ_MODEL ({_message(exc)})",
            status=404,
            provider=name,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return ProviderUnavailable(f"{name} answered HTTP {status}", provider=name)
        return ProviderRejected(
            f"{name} rejected the request (HTTP {status}): {_message(exc)}",
            status=status,
            provider=name,
        )
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        return ProviderUnavailable(
            f"could not reach {name} or the answer was cut off", provider=name
        )
    if isinstance(exc, openai.APIError):
        return ProviderUnavailable(f"{name} failed mid-answer: {str(exc)[:200]}", provider=name)
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        # What LangChain and the SDK raise for a 200 that is not a chat completion
        # (HTML, JSON of another shape, a stream with no chunks).
        return BadProviderAnswer(f"unusable answer from {name}: {str(exc)[:160]}", provider=name)
    return None
