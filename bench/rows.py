"""One measured row of the table: leadq's samples beside the baseline's, and the target."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """A measurement. Each run adds a sample to `leadq` (and `baseline`, where the original
    design can do the same thing); the table shows the median and the best."""

    key: str
    name: str
    unit: str
    higher_is_better: bool
    target: str
    leadq: list[float] = field(default_factory=list)
    baseline: list[float] | None = None  # None: the original design has nothing to compare
    note: str = ""
    met: bool | None = None  # set by the scenario from the medians

    def median(self, side: str = "leadq") -> float | None:
        values = self.leadq if side == "leadq" else self.baseline
        return statistics.median(values) if values else None

    def best(self, side: str = "leadq") -> float | None:
        values = self.leadq if side == "leadq" else self.baseline
        if not values:
            return None
        return max(values) if self.higher_is_better else min(values)

    def ratio(self) -> float | None:
        """leadq's median over the baseline's (None when there is no baseline, or it is 0)."""
        ours, theirs = self.median("leadq"), self.median("baseline")
        if ours is None or not theirs:
            return None
        return ours / theirs

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "leadq_median": self.median("leadq"),
            "leadq_best": self.best("leadq"),
            "baseline_median": self.median("baseline"),
            "baseline_best": self.best("baseline"),
            "ratio": self.ratio(),
        }
