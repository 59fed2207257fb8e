"""Vendor facts (base URLs, key settings, structured-output method, reasoning models), read
from `leadq/data/providers.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


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

    def is_reasoning_model(self, model: str) -> bool:
        return model.startswith(self.reasoning_model_prefixes)


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
        )
    return out
