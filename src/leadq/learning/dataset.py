"""Training sets from what a team has: a file of past leads with their outcome in a column
(read as `leadq qualify` reads lead files; the label and date columns are taken out, never
features), or the stored leads with recorded outcomes (won is converted; lost, disqualified
and no response are not)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from leadq.core.errors import InvalidLeadError
from leadq.core.lead import LeadInput
from leadq.core.rules.engine import RulesEngine
from leadq.leadfiles import LeadFile, crm_aliases, header_key
from leadq.learning.features import Record, lead_record, llm_scores, rules_scores
from leadq.learning.train import TrainingSet

CONVERTED = frozenset({"won"})
NOT_CONVERTED = frozenset({"lost", "disqualified", "no_response"})
UNKNOWN = "(unknown)"  # the name or company of a past lead that has none: not a feature
# Columns a CRM fills in when a deal ends: beside the label they would give the answer away
# (a model that looks perfect on paper and knows nothing before the outcome), so they are
# never features.
AFTER_THE_FACT = frozenset(
    header_key(name)
    for name in (
        "Outcome", "Stage", "Deal Stage", "Lead Status", "Status", "Lifecycle Stage",
        "Lead Stage", "Opportunity Stage", "Won", "Lost", "Is Won", "Is Closed", "Closed",
        "Converted", "Converted Date", "Close Date", "Closed Date", "Lost Reason",
        "Closed Lost Reason", "Won Time", "Lost Time", "Close Value", "Outcome Date",
    )
)  # fmt: skip


def _take(row: dict[str, Any], column: str) -> Any:
    """Remove `column` (compared as headers are) from the row, wherever the reader put it:
    among the attributes, or in the lead field a CRM header maps to. Returns its value."""
    key = header_key(column)
    attributes = row.get("attributes") or {}
    for name in list(attributes):
        if header_key(name) == key:
            return attributes.pop(name)
    alias = crm_aliases().get(key)
    if alias is not None and alias[0] in row:
        return row.pop(alias[0])
    return None


def _matches(value: Any, wanted: Iterable[str]) -> bool:
    text = str(value).strip().casefold()
    for w in wanted:
        w = w.strip().casefold()
        if text == w:
            return True
        try:
            if float(text) == float(w):
                return True
        except ValueError:
            continue
    return False


def parse_date(value: Any) -> date | None:
    """An ISO date or date-time (the start of the text), else None."""
    if value is None:
        return None
    text = str(value).strip()
    for candidate in (text, text[:10]):
        try:
            return datetime.fromisoformat(candidate).date()
        except ValueError:
            continue
    return None


def from_lead_file(
    read: LeadFile,
    engine: RulesEngine,
    label: str,
    positives: Sequence[str],
    date_column: str | None = None,
    source: str = "",
) -> TrainingSet:
    """The file's rows with a label; rows without one, or that are no lead, are skipped."""
    records: list[Record] = []
    labels: list[int] = []
    dates: list[date | None] = []
    skipped: list[str] = []
    excluded: dict[str, str] = {}
    for n, raw in enumerate(read.rows, start=1):
        if not isinstance(raw, dict):
            skipped.append(f"row {n}: {raw}")
            continue
        row = {**raw, "attributes": dict(raw.get("attributes") or {})}
        value = _take(row, label)
        on = parse_date(_take(row, date_column)) if date_column else None
        for name in [n for n in row["attributes"] if header_key(n) in AFTER_THE_FACT]:
            del row["attributes"][name]
            excluded[name] = "filled in when a deal ends: it would give the outcome away"
        if value is None or not str(value).strip():
            skipped.append(f"row {n}: no {label}")
            continue
        row.setdefault("lead_name", UNKNOWN)
        row.setdefault("company_name", UNKNOWN)
        if not row["attributes"]:
            del row["attributes"]
        try:
            lead = LeadInput.parse(row)
        except InvalidLeadError as exc:
            skipped.append(f"row {n}: {exc.message}")
            continue
        records.append(lead_record(lead, rules_scores(engine, lead)))
        labels.append(int(_matches(value, positives)))
        dates.append(on)
    return TrainingSet(
        records,
        labels,
        dates if date_column else None,
        source=source,
        label=f"{label} in {list(positives)}",
        skipped=skipped,
        excluded=excluded,
    )


def from_stored(rows: Iterable[Mapping[str, Any]], engine: RulesEngine) -> TrainingSet:
    """Stored leads (as `Store.latest_with_outcomes` gives them) with a won/lost outcome,
    dated by their latest qualification; the scores of that qualification are features too
    when an LLM gave them."""
    records: list[Record] = []
    labels: list[int] = []
    dates: list[date | None] = []
    skipped: list[str] = []
    for row in rows:
        outcome = row.get("outcome")
        if outcome not in CONVERTED | NOT_CONVERTED:
            continue
        result = row["result"]
        try:
            lead = LeadInput.parse(result.get("input") or {})
        except InvalidLeadError as exc:
            skipped.append(f"lead {result.get('lead_ref')}: {exc.message}")
            continue
        records.append(lead_record(lead, rules_scores(engine, lead), llm_scores(result)))
        labels.append(int(outcome in CONVERTED))
        dates.append(parse_date(result.get("created_at")))
    return TrainingSet(
        records,
        labels,
        dates,
        source="stored leads with outcomes",
        label="outcome won (vs lost, disqualified, no_response)",
        skipped=skipped,
    )
