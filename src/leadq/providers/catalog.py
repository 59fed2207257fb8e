"""Vendor facts and prices, read from the TOML files in `leadq/data` (or the user's own)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from leadq.schemas.result import Usage


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


def _read_packaged(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("leadq.data").joinpath(name).read_text("utf-8"))


@lru_cache(maxsize=1)
def providers() -> dict[str, ProviderInfo]:
    """All known providers by name."""
    out = {}
    for name, raw in _read_packaged("providers.toml").items():
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


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens."""

    input: float
    output: float

    def cost(self, usage: Usage) -> float:
        return round((usage.input_tokens * self.input + usage.output_tokens * self.output) / 1e6, 8)


@lru_cache(maxsize=4)
def price_table(path: Path | None = None) -> dict[str, Price]:
    """`"provider/model"` -> price, from `path` or the packaged table."""
    raw = tomllib.loads(path.read_text("utf-8")) if path else _read_packaged("prices.toml")
    return {key: Price(float(v["input"]), float(v["output"])) for key, v in raw.items()}


def cost_of(usage: Usage, provider: str, model: str, path: Path | None = None) -> float | None:
    """Cost of `usage` in USD, or None when the model has no price in the table."""
    price = price_table(path).get(f"{provider}/{model}")
    return price.cost(usage) if price else None
