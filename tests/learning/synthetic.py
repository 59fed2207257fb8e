"""Synthetic past leads with a known effect: `Channel` "A" converts 70% of the time and "B"
20%; `Colour` and `Visits` are noise. Column names are this test data's own."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.learning.features import lead_record, rules_scores
from leadq.learning.train import TrainingSet


def rows(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        channel = rng.choice("AB")
        won = rng.random() < (0.7 if channel == "A" else 0.2)
        out.append(
            {
                "lead_name": f"Person {i}",
                "company_name": f"Company {i}",
                "Channel": channel,
                "Colour": rng.choice(["red", "green", "blue"]),
                "Visits": str(rng.randint(0, 30)),
                "Result": "Closed Won" if won else "Closed Lost",
            }
        )
    return out


def write_csv(path: Path, data: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)
    return path


def engine() -> RulesEngine:
    settings = Settings()
    return RulesEngine(load_icp(settings.icp_file), settings.score_weights)


def training_set(n: int, *, shuffled: bool = False, seed: int = 7) -> TrainingSet:
    rules = engine()
    records, labels = [], []
    for row in rows(n, seed):
        attributes = {k: row[k] for k in ("Channel", "Colour", "Visits")}
        lead = LeadInput.parse({"lead_name": "x", "company_name": "y", "attributes": attributes})
        records.append(lead_record(lead, rules_scores(rules, lead)))
        labels.append(int(row["Result"] == "Closed Won"))
    if shuffled:
        random.Random(seed + 1).shuffle(labels)
    return TrainingSet(records, labels, source="synthetic", label="Result")
