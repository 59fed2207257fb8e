"""Prompt experiments: several prompt versions at once, with weights, and a deterministic
choice per lead (the same lead always gets the same variant, on any process or machine)."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass
from importlib import resources
from itertools import accumulate


def prompt_exists(version: str) -> bool:
    """Whether `prompts/<version>.toml` ships with leadq."""
    return resources.files("leadq.prompts").joinpath(f"{version}.toml").is_file()


@dataclass(frozen=True)
class Variants:
    """Prompt versions with their shares of the leads, and the salt that names the experiment
    (a new salt reshuffles every lead; changing weights moves only the leads that must move)."""

    weights: tuple[tuple[str, float], ...]
    salt: str = "prompt-ab"

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.weights)

    @property
    def shares(self) -> dict[str, float]:
        """Each version's weight, normalised to sum to 1."""
        total = sum(w for _, w in self.weights)
        return {v: w / total for v, w in self.weights}

    def pick(self, key: str) -> str:
        """The version for the lead with this identity (`storage.identity.lead_key`)."""
        if len(self.weights) == 1:
            return self.weights[0][0]
        digest = hashlib.sha256(f"{self.salt}\x00{key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
        bounds = list(accumulate(self.shares.values()))
        index = min(bisect_right(bounds, point), len(bounds) - 1)
        return self.weights[index][0]


def parse_variants(spec: str | None, default: str, salt: str = "prompt-ab") -> Variants:
    """`v1=0.7,v2=0.3` (a bare `v1` weighs 1) into `Variants`; empty means just `default`.
    Raises ValueError naming `LEADQ_PROMPT_VARIANTS` for a bad weight or an unknown prompt."""
    if not spec or not spec.strip():
        return Variants(((default, 1.0),), salt)
    weights: dict[str, float] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        name, _, raw = part.partition("=")
        name = name.strip()
        try:
            weight = float(raw) if raw.strip() else 1.0
        except ValueError:
            raise ValueError(f"LEADQ_PROMPT_VARIANTS: {raw.strip()!r} is not a number") from None
        if not name or not weight >= 0 or weight == float("inf"):
            raise ValueError(f"LEADQ_PROMPT_VARIANTS: bad entry {part.strip()!r}")
        if name in weights:
            raise ValueError(f"LEADQ_PROMPT_VARIANTS: {name!r} is listed twice")
        if not prompt_exists(name):
            raise ValueError(f"LEADQ_PROMPT_VARIANTS: no prompt file prompts/{name}.toml")
        weights[name] = weight
    if not weights or sum(weights.values()) <= 0:
        raise ValueError("LEADQ_PROMPT_VARIANTS: at least one weight must be positive")
    return Variants(tuple((v, w) for v, w in weights.items() if w > 0), salt)
