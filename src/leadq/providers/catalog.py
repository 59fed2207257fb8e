"""Vendor facts (base URLs, key settings, structured-output method, reasoning models), read
from `leadq/data/providers.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a provider names its headers: not at the CLI's start
    from leadq.providers.ratelimit import HeaderScheme


@dataclass(frozen=True)
class ProviderInfo:
    """What leadq knows about one API host."""

    name: str
    base_url: str | None
    api_key_setting: str | None
    base_url_setting: str | None
    structured_output: str
    default_model: str
    reasoning_model_prefixes: tuple[str, ...]
    default_reasoning_effort: str | None
    schema_max_chars: int
    #: The request field of the answer's token budget (local servers read `max_tokens`).
    max_tokens_field: str = "max_completion_tokens"
    #: The wire format (`leadq.wire.apis`): "chat_completions" or "anthropic_messages".
    api: str = "chat_completions"
    #: The provider's own rate-limit header names; None: `x-ratelimit-*`.
    rate_limit_headers: HeaderScheme | None = None
    #: Models that refuse a `temperature` field: it is left out of their requests.
    no_temperature_prefixes: tuple[str, ...] = ()
    #: JSON-schema keywords the provider's structured output refuses: left out of the schema
    #: it is sent (leadq checks the answer against the whole schema itself).
    schema_unsupported: tuple[str, ...] = ()

    def is_reasoning_model(self, model: str) -> bool:
        return model.startswith(self.reasoning_model_prefixes)

    def takes_temperature(self, model: str) -> bool:
        return not (self.no_temperature_prefixes and model.startswith(self.no_temperature_prefixes))


def read_packaged(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("leadq.data").joinpath(name).read_text("utf-8"))


@lru_cache(maxsize=1)
def providers() -> dict[str, ProviderInfo]:
    """All known providers by name."""
    out = {}
    for name, raw in read_packaged("providers.toml").items():
        out[name] = ProviderInfo(
            name=name,
            base_url=raw.get("base_url"),
            api_key_setting=raw.get("api_key_setting"),
            base_url_setting=raw.get("base_url_setting"),
            structured_output=raw.get("structured_output", "json_schema"),
            default_model=raw["default_model"],
            reasoning_model_prefixes=tuple(raw.get("reasoning_model_prefixes", ())),
            default_reasoning_effort=raw.get("default_reasoning_effort"),
            schema_max_chars=int(raw.get("schema_max_chars", 100000)),
            max_tokens_field=raw.get("max_tokens_field", "max_completion_tokens"),
            api=raw.get("api", "chat_completions"),
            rate_limit_headers=_header_scheme(raw),
            no_temperature_prefixes=tuple(raw.get("no_temperature_prefixes", ())),
            schema_unsupported=tuple(raw.get("schema_unsupported", ())),
        )
    return out


def _header_scheme(raw: dict[str, Any]) -> HeaderScheme | None:
    """A provider's `rate_limit_headers` table (kind = header prefix), the window they
    describe (`rate_limit_window`: second, minute, hour or day), and whether a 429's
    `retry-after` comes before the resets (`retry_after_first`)."""
    names = raw.get("rate_limit_headers")
    if not names:
        return None
    from leadq.providers.ratelimit import UNIT_SECONDS, HeaderScheme

    return HeaderScheme(
        tuple(names.items()),
        UNIT_SECONDS[raw.get("rate_limit_window", "minute")],
        bool(raw.get("retry_after_first", False)),
    )
