"""The ideal customer profile the rules engine scores fit against: the seller profile's
industries, ranges and title keywords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from leadq.core.profile import SellerProfile, load_profile


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


def load_icp(path: Path | None = None) -> ICP:
    """The rules-engine part of the seller profile in `path`, or of the packaged default
    (`core/profile.py` reads and validates the file, again when it changes)."""
    return icp_of(load_profile(path))


@lru_cache(maxsize=8)
def icp_of(profile: SellerProfile) -> ICP:
    """The profile's industries, ranges and title keywords as the rules engine matches them."""
    return ICP(
        target_industries=_phrases(list(profile.target_industries)),
        adjacent_industries=_phrases(list(profile.adjacent_industries)),
        excluded_industries=_phrases(list(profile.excluded_industries)),
        employees_min=profile.employees_min,
        employees_max=profile.employees_max,
        revenue_min_usd=profile.revenue_min_usd,
        revenue_max_usd=profile.revenue_max_usd,
        title_keywords=_phrases(list(profile.title_keywords)),
        fit_weights=dict(profile.fit_weights),
    )
