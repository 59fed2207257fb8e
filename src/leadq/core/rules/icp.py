"""The ideal customer profile the rules engine scores fit against, read from TOML."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path


def _phrases(words: list[str]) -> re.Pattern[str]:
    """Whole-word (or CJK substring) match of any lower-cased phrase; callers lower-case the
    text. Only whether it matches is used, so the ASCII phrases share one pair of word
    boundaries, checked once per position rather than once per phrase: the profile's
    patterns are searched for every lead the rules engine scores."""
    words = sorted(words, key=len, reverse=True)
    whole = [re.escape(w.lower()) for w in words if w.isascii()]
    anywhere = [re.escape(w.lower()) for w in words if not w.isascii()]
    alts = [rf"(?<![\w])(?:{'|'.join(whole)})(?![\w])"] if whole else []
    return re.compile("|".join(alts + anywhere) or r"(?!)")


@dataclass(frozen=True)
class ICP:
    target_industries: re.Pattern[str]
    adjacent_industries: re.Pattern[str]
    excluded_industries: re.Pattern[str]
    employees_min: float
    employees_max: float
    revenue_min_usd: float
    revenue_max_usd: float
    title_keywords: re.Pattern[str]
    fit_weights: dict[str, float]


@lru_cache(maxsize=4)
def load_icp(path: Path | None = None) -> ICP:
    """The profile in `path`, or the packaged default."""
    if path is None:
        text = resources.files("leadq.data").joinpath("icp.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = tomllib.loads(text)
    weights = {
        k: float(raw.get("fit_weights", {}).get(k, d))
        for k, d in (("industry", 0.4), ("size", 0.25), ("revenue", 0.2), ("title", 0.15))
    }
    total = sum(weights.values()) or 1.0
    return ICP(
        target_industries=_phrases(raw.get("target_industries", [])),
        adjacent_industries=_phrases(raw.get("adjacent_industries", [])),
        excluded_industries=_phrases(raw.get("excluded_industries", [])),
        employees_min=float(raw.get("employees_min", 50)),
        employees_max=float(raw.get("employees_max", 5000)),
        revenue_min_usd=float(raw.get("revenue_min_usd", 5e6)),
        revenue_max_usd=float(raw.get("revenue_max_usd", 2e9)),
        title_keywords=_phrases(raw.get("title_keywords", [])),
        fit_weights={k: v / total for k, v in weights.items()},
    )
