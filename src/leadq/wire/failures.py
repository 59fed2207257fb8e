"""Turn what a provider call raised (an HTTP status, a transport failure, a timeout) into
leadq's typed errors, so that the caller can tell a wrong key (fix the config) from a 429
(wait) from a bad answer (retry)."""

from __future__ import annotations

import aiohttp

from leadq.core.errors import (
    LeadqError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from leadq.core.redact import redact
from leadq.providers.catalog import ProviderInfo
from leadq.providers.ratelimit import retry_after
from leadq.wire.step import ProviderHTTPError


def _message(exc: ProviderHTTPError) -> str:
    return redact(exc.message())[:300]  # a provider may quote the key it was sent


def _status_error(
    exc: ProviderHTTPError, info: ProviderInfo, model: str, key_env: str
) -> LeadqError:
    name, status = info.name, exc.status_code
    if status == 429:
        wait = retry_after(exc.headers, info.rate_limit_headers)
        resets = f" (resets in {wait:g}s)" if wait is not None else ""
        return RateLimited(
            f"{name} rate limit: {_message(exc)}{resets}", retry_after=wait, provider=name
        )
    if status == 401:
        return ProviderRejected(
            f"{name} rejected the API key (HTTP 401): check {key_env}", status=401, provider=name
        )
    if status == 404:
        return ProviderRejected(
            f"{name} answered 404 for model {model!r}: check LEADQ_MODEL ({_message(exc)})",
            status=404,
            provider=name,
        )
    if status >= 500:
        return ProviderUnavailable(f"{name} answered HTTP {status}", provider=name)
    return ProviderRejected(
        f"{name} rejected the request (HTTP {status}): {_message(exc)}",
        status=status,
        provider=name,
    )


def classify(exc: BaseException, info: ProviderInfo, model: str, key_env: str) -> LeadqError | None:
    """The leadq error for a failure of a call to `info`'s provider, or None when the
    failure is not the provider's (a bug of ours must not be reported as a bad answer)."""
    name = info.name
    if isinstance(exc, LeadqError):
        if exc.provider is None:
            exc.provider = name
        return exc
    if isinstance(exc, ProviderHTTPError):
        return _status_error(exc, info, model, key_env)
    if isinstance(exc, TimeoutError):  # aiohttp's connect and read timeouts included
        return ProviderTimeout(f"{name} did not answer within LEADQ_TIMEOUT", provider=name)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ProviderUnavailable(f"{name}'s answer was cut off", provider=name)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return ProviderUnavailable(
            f"could not reach {name} or the answer was cut off", provider=name
        )
    return None
