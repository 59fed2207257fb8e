"""Leads for the benchmarks: variations of `examples/leads.csv`, each one unique (so that no
cache can answer it), and files of them for the CLI."""

from __future__ import annotations

import csv
from functools import lru_cache
from itertools import cycle, islice
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "leads.csv"
# What the original design's input model requires; the baseline rejects a lead without them.
SEED_REQUIRED = ("lead_name", "company_name", "industry", "company_size", "annual_revenue")


@lru_cache(maxsize=1)
def example_rows() -> tuple[dict[str, str], ...]:
    with EXAMPLES.open(newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def comparable() -> list[dict[str, str]]:
    """The example leads both designs accept: every field the original requires is set."""
    rows = [{k: v for k, v in row.items() if v} for row in example_rows()]
    return [row for row in rows if all(row.get(k) for k in SEED_REQUIRED)]


def llm_leads(n: int, tag: str) -> list[dict[str, Any]]:
    """`n` comparable leads, each one different from every other lead of the run (id, name
    and email carry `tag` and the index), so that no cache can answer one from another."""
    out = []
    for i, row in enumerate(islice(cycle(comparable()), n)):
        lead = {**row, "lead_id": f"B-{tag}-{i}", "lead_name": f"{row['lead_name']} {tag}{i}"}
        if "email" in lead:
            lead["email"] = f"{tag.lower()}{i}.{lead['email']}"
        out.append(lead)
    return out


def rules_leads(n: int) -> list[dict[str, Any]]:
    """`n` leads cycling through every example row (odd ones included), ids made unique."""
    rows = [{k: v for k, v in row.items() if v} for row in example_rows()]
    return [{**row, "lead_id": f"R-{i:06d}"} for i, row in enumerate(islice(cycle(rows), n))]


def write_csv(path: Path, n: int) -> Path:
    """A CSV of `n` rows cycling through the example file, with unique lead ids."""
    rows = example_rows()
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(islice(cycle(rows), n)):
            writer.writerow({**row, "lead_id": f"C-{i:06d}"})
    return path
