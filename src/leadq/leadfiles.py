"""Reading leads from CSV or JSONL files and writing outcomes as JSONL or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from leadq.schemas.lead import LEAD_FIELDS
from leadq.schemas.result import LeadError, Outcome, QualificationResult

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_ROW_CHARS = 64 * 1024


class LeadFileError(ValueError):
    """The file as a whole cannot be read (format, size, header)."""


def file_format(path: Path, explicit: str | None = None) -> str:
    """`csv` or `jsonl`, from `explicit` or the file suffix."""
    fmt = explicit or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(
        path.suffix.lower()
    )
    if fmt not in ("csv", "jsonl"):
        raise LeadFileError(f"{path}: cannot tell the format from the suffix; use --format")
    return fmt


def read_leads(path: Path, fmt: str | None = None) -> tuple[list[Any], list[str]]:
    """Rows as dicts (or a marker string for an unreadable row), and warnings about the file.
    Unknown columns are dropped with a warning, so one extra column does not fail every row."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LeadFileError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB")
    fmt = file_format(path, fmt)
    known, warnings = set(LEAD_FIELDS), []
    rows: list[Any] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            if not header:
                raise LeadFileError(f"{path}: empty file or no header row")
            extra = [h for h in header if h not in known]
            if extra:
                warnings.append(f"ignored unknown columns: {', '.join(extra)}")
            for raw in reader:
                rows.append({k: v for k, v in raw.items() if k in known and v is not None})
        else:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if len(line) > MAX_ROW_CHARS:
                    rows.append(f"line {n} is longer than {MAX_ROW_CHARS} characters")
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    rows.append(f"line {n} is not valid JSON")
                    continue
                if isinstance(obj, dict):
                    dropped = set(obj) - known
                    if dropped:
                        warnings.append(
                            f"line {n}: ignored unknown keys: {', '.join(sorted(dropped))}"
                        )
                    obj = {k: v for k, v in obj.items() if k in known}
                rows.append(obj)
    return rows, warnings


CSV_COLUMNS = (
    "row",
    "lead_id",
    "lead_name",
    "company_name",
    "status",
    "overall_score",
    "fit_score",
    "budget_score",
    "urgency_score",
    "authority_score",
    "confidence",
    "recommended_action",
    "reasoning",
    "reasoning_for_action",
    "key_insights",
    "positive_indicators",
    "risk_factors",
    "follow_up_questions",
    "suggested_messaging",
    "flags",
    "provider",
    "model",
    "prompt_version",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
    "error_message",
    "retryable",
)


def outcome_record(row: int, lead: Any, outcome: Outcome) -> dict[str, Any]:
    """The JSONL record for one input row."""
    name = lead.get("lead_name") if isinstance(lead, dict) else None
    base = {
        "row": row,
        "lead_id": outcome.lead_id,
        "lead_name": name.strip() or None if isinstance(name, str) else None,
    }
    if isinstance(outcome, QualificationResult):
        return {**base, "status": "ok", "result": outcome.model_dump(mode="json")}
    return {**base, "status": "error", "error": outcome.model_dump(mode="json")}


def _csv_row(record: dict[str, Any], lead: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "row": record["row"],
        "lead_id": record["lead_id"],
        "lead_name": record["lead_name"],
        "status": record["status"],
        "company_name": lead.get("company_name") if isinstance(lead, dict) else None,
    }
    if record["status"] == "ok":
        res = record["result"]
        for col in CSV_COLUMNS:
            if col in res:
                val = res[col]
                out[col] = " | ".join(val) if isinstance(val, list) else val
        out["flags"] = ";".join(res["flags"])
        out["input_tokens"] = res["usage"]["input_tokens"]
        out["output_tokens"] = res["usage"]["output_tokens"]
    else:
        err = record["error"]
        out.update(error=err["error"], error_message=err["message"], retryable=err["retryable"])
    return out


def write_outcomes(
    fh: IO[str], fmt: str, leads: list[Any], outcomes: list[Outcome]
) -> Iterator[dict[str, Any]]:
    """Write one record per input row, in input order; yields each record written."""
    writer = csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for i, (lead, outcome) in enumerate(zip(leads, outcomes, strict=True), 1):
        record = outcome_record(i, lead, outcome)
        if writer:
            writer.writerow(_csv_row(record, lead))
        else:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        yield record


def row_error(message: str) -> LeadError:
    return LeadError(error="invalid_input", message=message, retryable=False, field="row")
