"""Prices of model tokens (USD per million), read from `leadq/data/prices.toml` or the
user's own table (`LEADQ_PRICES_FILE`); a model missing from the table costs `None`, never a
made-up number."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from leadq.core.result import Usage


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
    text = (
        path.read_text("utf-8")
        if path
        else resources.files("leadq.data").joinpath("prices.toml").read_text("utf-8")
    )
    raw = tomllib.loads(text)
    return {key: Price(float(v["input"]), float(v["output"])) for key, v in raw.items()}


def cost_of(usage: Usage, provider: str, model: str, path: Path | None = None) -> float | None:
    """Cost of `usage` in USD, or None when the model has no price in the table."""
    price = price_table(path).get(f"{provider}/{model}")
    return price.cost(usage) if price else None
