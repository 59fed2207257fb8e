"""Who a request goes to: a provider's base URL and key from the settings, checked once, and
the rate limiter every caller of that key and model shares. What is sent there (the wire
format) is `leadq.wire`'s business."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import SecretStr

from leadq.config import Settings
from leadq.core.errors import ProviderNotConfigured
from leadq.providers.catalog import ProviderInfo
from leadq.providers.ratelimit import RateLimiter, shared_limiter


@dataclass(frozen=True)
class Endpoint:
    """One provider account: its facts, base URL and key (a `SecretStr`, so never printed)."""

    info: ProviderInfo
    base_url: str
    api_key: SecretStr | None

    @property
    def key_env(self) -> str:
        """The environment variable that holds the key, for error messages."""
        return (self.info.api_key_setting or "").upper()

    @property
    def bearer(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None

    def limiter(self, model: str, settings: Settings) -> RateLimiter:
        """The process's limiter for this key and model (providers limit per key and model)."""
        key_id = (
            hashlib.sha256(self.api_key.get_secret_value().encode()).hexdigest()[:16]
            if self.api_key
            else ""
        )
        return shared_limiter(
            f"{self.base_url}#{model}",
            key_id,
            settings.rpm,
            settings.tpm,
            settings.redis_url,
            settings.redis_prefix,
            scheme=self.info.rate_limit_headers,
        )


def endpoint_for(settings: Settings, info: ProviderInfo) -> Endpoint:
    """The endpoint `settings` configure for `info`'s provider; `ProviderNotConfigured`, naming
    the variable to set and the offline alternative, when its key or URL is missing."""
    key = getattr(settings, info.api_key_setting) if info.api_key_setting else None
    base_url = (
        getattr(settings, info.base_url_setting) if info.base_url_setting else None
    ) or info.base_url
    if not base_url:
        raise ProviderNotConfigured(f"{info.name} has no base URL to call")
    # A key is needed for a hosted API (its own URL); not for a server of one's own at another
    # URL, nor for a provider that takes none (the local server presets).
    needs_key = info.api_key_setting is not None
    if key is None and needs_key and (info.name == "cerebras" or base_url == info.base_url):
        env = (info.api_key_setting or "").upper()
        raise ProviderNotConfigured(
            f"{env} is not set: set it to use {info.name}, or set "
            "LEADQ_PROVIDER=rules to run offline on the built-in rules engine"
        )
    return Endpoint(info, base_url, key)
