"""Reading leads from CSV or JSONL files and writing outcomes as JSONL or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from leadq.core.lead import LEAD_FIELDS
from leadq.core.result import LeadError, QualificationResult

MAX_FILE_BYTES = 200 * 1024 * 1024  # defaults of LEADQ_MAX_FILE_BYTES and LEADQ_MAX_ROWS
MAX_ROWS = 1_000_000
MAX_ROW_CHARS = 64 * 1024  # a longer row is that row's error, not the file's


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


def read_leads(
    path: Path,
    fmt: str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
) -> tuple[list[Any], list[str]]:
    """Rows as dicts (or a marker string for an unreadable or over-long row), and warnings
    about the file. Unknown columns are dropped with a warning, so one extra column does not
    fail every row. A file over `max_bytes` or `max_rows` is refused as a whole."""
    size = path.stat().st_size
    if size > max_bytes:
        raise LeadFileError(
            f"{path}: {size} bytes is larger than the limit of {max_bytes} (LEADQ_MAX_FILE_BYTES)"
        )
    fmt = file_format(path, fmt)
    too_many = f"{path}: more than {max_rows} rows (LEADQ_MAX_ROWS)"
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
            limit = csv.field_size_limit(min(max(max_bytes, csv.field_size_limit()), 2**31 - 1))
            try:  # the file's size bounds a field; an over-long row is reported as that row
                for n, raw in enumerate(reader, 1):
                    if len(rows) >= max_rows:
                        raise LeadFileError(too_many)
                    row = {k: v for k, v in raw.items() if k in known and v is not None}
                    if sum(map(len, row.values())) > MAX_ROW_CHARS:
                        rows.append(f"row {n} is longer than {MAX_ROW_CHARS} characters")
                    else:
                        rows.append(row)
            finally:
                csv.field_size_limit(limit)
        else:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if len(rows) >= max_rows:
                    raise LeadFileError(too_many)
                if len(line) > MAX_ROW_CHARS:
                    rows.append(f"line {n} is longer than {MAX_ROW_CHARS} characters")
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):  # RecursionError: nested too deeply
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


_R = QualificationResult
# One row of `leadq qualify -o out.csv` (and the page's Download CSV, in the same order):
# where the row came from, then the result's fields.
CSV_COLUMNS = (
    "row",
    "qualification_id",
    "lead_ref",
    "lead_id",
    "lead_name",
    "company_name",
    "status",
    *_R.SCORE_FIELDS,
    "recommended_action",
    "reasoning",
    "reasoning_for_action",
    *_R.LIST_FIELDS,
    "suggested_messaging",
    "flags",
    *_R.SOURCE_FIELDS,
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
    "error_message",
    "retryable",
)


OUTPUT_DROP = ("input", "input_hash", "created_at")


def job_record(row: int, lead: Any, status: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    """The output record of one input row, from what the job stored for it."""
    name = lead.get("lead_name") if isinstance(lead, dict) else None
    record: dict[str, Any] = {
        "row": row,
        "lead_id": (payload or {}).get("lead_id"),
        "lead_name": name.strip() or None if isinstance(name, str) else None,
        "status": {"done": "ok"}.get(status, status),
    }
    if status == "done" and payload is not None:
        record["result"] = {k: v for k, v in payload.items() if k not in OUTPUT_DROP}
    elif payload is not None:
        record["error"] = payload
    return record


def _csv_row(record: dict[str, Any], lead: Any) -> dict[str, Any]:
    company = lead.get("company_name") if isinstance(lead, dict) else None
    out: dict[str, Any] = {
        "row": record["row"],
        "lead_id": record["lead_id"],
        "lead_name": record["lead_name"],
        "status": record["status"],
        "company_name": company,
    }
    if "result" in record:
        res = record["result"]
        for col in CSV_COLUMNS:
            if col in res:
                val = res[col]
                out[col] = " | ".join(val) if isinstance(val, list) else val
        out["flags"] = ";".join(res["flags"])
        out["input_tokens"] = res["usage"]["input_tokens"]
        out["output_tokens"] = res["usage"]["output_tokens"]
    elif "error" in record:
        err = record["error"]
        out.update(error=err["error"], error_message=err["message"], retryable=err["retryable"])
    return out


def write_records(
    fh: IO[str], fmt: str, records: Iterable[dict[str, Any]], leads: Sequence[Any] | None = None
) -> int:
    """Write records as JSONL or CSV; returns how many."""
    writer = csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    n = 0
    for record in records:
        n += 1
        if writer:
            lead = leads[record["row"] - 1] if leads and "row" in record else None
            writer.writerow(_csv_row(record, lead))
        else:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


def row_error(message: str) -> LeadError:
    return LeadError(error="invalid_input", message=message, retryable=False, field="row")
