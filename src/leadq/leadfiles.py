"""Reading leads from CSV or JSONL files and writing outcomes as JSONL or CSV.

Files are read as CRMs write them: UTF-8 with or without a byte-order mark, Windows-1252
when the bytes are not UTF-8 (only the rows that are not, when the rest is), or UTF-16 with
a byte-order mark; a comma, semicolon or tab between columns; and columns named as leadq
names its fields or as CRM exports do (data/crm_columns.toml), compared without case,
spacing or punctuation, with an explicit map (`--map "Column=field"`) winning over both. The
other columns are kept as each lead's attributes, and written back after the results."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import IO, Any

from leadq.core.lead import ATTRIBUTE_NAME, LEAD_FIELDS, MAX_ATTRIBUTES, clean_text
from leadq.core.result import LeadError, QualificationResult

MAX_FILE_BYTES = 200 * 1024 * 1024  # defaults of LEADQ_MAX_FILE_BYTES and LEADQ_MAX_ROWS
MAX_ROWS = 1_000_000
MAX_ROW_CHARS = 64 * 1024  # a longer row is that row's error, not the file's

# A person's name in two columns, joined into lead_name when no column holds the whole name.
NAME_PARTS = ("first_name", "last_name")
MAP_FIELDS = (*LEAD_FIELDS, *NAME_PARTS)  # what a column can be mapped to
LEAVE_OUT = "ignore"  # `--map "Column=ignore"`: neither a field nor an attribute
DELIMITERS = ",;\t"
LISTED = 10  # rows or ids named in one warning; the rest are counted


class LeadFileError(ValueError):
    """The file as a whole cannot be read (format, size, header, column map)."""


def file_format(path: Path, explicit: str | None = None) -> str:
    """`csv` or `jsonl`, from `explicit` or the file suffix."""
    fmt = explicit or {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}.get(
        path.suffix.lower()
    )
    if fmt not in ("csv", "jsonl"):
        raise LeadFileError(f"{path}: cannot tell the format from the suffix; use --format")
    return fmt


# --- Columns -------------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")


def header_key(name: str) -> str:
    """A column header as it is compared: without case, spacing or punctuation, so that
    "Lead Name", "lead-name" and "LEAD_NAME" are all `leadname`."""
    return _NOT_WORD.sub("", name.casefold())


@cache
def crm_aliases() -> dict[str, tuple[str, int]]:
    """Header key -> (field, rank) for leadq's own field names (rank -1) and the CRM export
    headers of data/crm_columns.toml (rank: the place in the field's list; lower wins)."""
    text = resources.files("leadq.data").joinpath("crm_columns.toml").read_text("utf-8")
    table = tomllib.loads(text)
    out = {header_key(name): (name, -1) for name in MAP_FIELDS}
    for group in ("fields", "name_parts"):
        for name, headers in table[group].items():
            if name not in MAP_FIELDS:
                raise ValueError(f"crm_columns.toml: {name!r} is not a lead field")
            for rank, header in enumerate(headers):
                got = out.setdefault(header_key(header), (name, rank))
                if got[0] != name:
                    raise ValueError(
                        f"crm_columns.toml: {header!r} is listed for {got[0]} and {name}"
                    )
    return out


@dataclass(frozen=True)
class _Plan:
    """How the values of one header's columns become a lead: worked out once per header."""

    columns: tuple[tuple[int, str], ...]  # (position, field)
    width: int  # a row this long has every column read
    name_parts: tuple[int, ...]  # positions of the first and last name, joined into lead_name
    attributes: tuple[tuple[int, str], ...]  # (position, name): no field, kept as attributes
    beyond: tuple[str, ...]  # columns that are no field, past the MAX_ATTRIBUTES kept
    unnamed: tuple[str, ...]  # columns that are no field and have no usable name, with why
    repeated: tuple[str, ...]  # columns for a field that another column gives
    mapped: frozenset[str]  # header keys of the explicit map found in this header
    left: tuple[str, ...] = ()  # columns the explicit map leaves out


def _shown(header: Sequence[str], pos: int) -> str:
    return header[pos].strip() or f"column {pos + 1} (no name)"


def _attribute_columns(
    header: Sequence[str], others: Sequence[int]
) -> tuple[tuple[tuple[int, str], ...], tuple[str, ...], tuple[str, ...]]:
    """Of the columns that are no field (their positions), the first MAX_ATTRIBUTES with a
    name a lead can keep, as (position, name); the names of the rest; and the columns that
    cannot be an attribute, with why."""
    kept: dict[str, int] = {}
    beyond: list[str] = []
    unnamed: list[str] = []
    for pos in others:
        name = clean_text(header[pos])
        if not name:
            unnamed.append(f"column {pos + 1} (no name)")
        elif len(name) > ATTRIBUTE_NAME:
            unnamed.append(f"{name[:40]}… (a name over {ATTRIBUTE_NAME} characters)")
        elif name in kept:
            unnamed.append(f"{name} (column {pos + 1}: column {kept[name] + 1} has that name)")
        elif len(kept) >= MAX_ATTRIBUTES:
            beyond.append(name)
        else:
            kept[name] = pos
    return tuple((pos, name) for name, pos in kept.items()), tuple(beyond), tuple(unnamed)


class ColumnMap:
    """Which lead field each column of a file gives: the explicit map first, then leadq's
    own field names, then the CRM headers it knows, all compared by `header_key`. Of two
    columns for one field, the explicit one, else the better-ranked name, else the first
    is read; the other is reported. A column the map sends to LEAVE_OUT is not read."""

    def __init__(self, explicit: Mapping[str, str] | None = None) -> None:
        fields = {header_key(name): name for name in MAP_FIELDS}
        self.explicit: dict[str, tuple[str, str]] = {}  # header key -> (field, column)
        given: dict[str, str] = {}
        for column, target in (explicit or {}).items():
            name = fields.get(header_key(target))
            if header_key(target) == LEAVE_OUT:
                name = LEAVE_OUT
            if name is None:
                raise LeadFileError(
                    f"cannot map column {column!r} to {target!r}: no such field "
                    f"(the fields are {', '.join(MAP_FIELDS)}; {LEAVE_OUT} leaves it out)"
                )
            key = header_key(column)
            if not key:
                raise LeadFileError(f"cannot map {column!r} to {name}: no column name")
            if key in self.explicit:
                raise LeadFileError(f"column {column!r} is mapped twice")
            if name in given and name != LEAVE_OUT:
                raise LeadFileError(
                    f"{name} is mapped from two columns: {given[name]!r}, {column!r}"
                )
            given[name] = column
            self.explicit[key] = (name, column)
        self._known = crm_aliases()
        self._plans: dict[tuple[str, ...], _Plan] = {}

    def plan(self, header: Sequence[str]) -> _Plan:
        key = tuple(header)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 1000:  # JSONL lines with ever other keys
                self._plans.clear()
            plan = self._plans[key] = self._make_plan(header)
        return plan

    def unmatched(self, found: set[str]) -> list[str]:
        """A warning for each mapped column the file does not have."""
        return [
            f"no column {column!r} in the file (mapped to {name})"
            if name != LEAVE_OUT
            else f"no column {column!r} in the file (to be left out)"
            for key, (name, column) in self.explicit.items()
            if key not in found
        ]

    def _make_plan(self, header: Sequence[str]) -> _Plan:
        chosen: dict[str, tuple[tuple[int, int, int], int]] = {}  # field -> (order, position)
        candidates: list[tuple[int, str]] = []
        others, mapped, left = [], set(), []
        for pos, column in enumerate(header):
            key = header_key(column)
            if key in self.explicit:
                name, order = self.explicit[key][0], (0, 0, pos)
                mapped.add(key)
                if name == LEAVE_OUT:
                    left.append(_shown(header, pos))
                    continue
            elif key in self._known:
                name, rank = self._known[key]
                order = (1, rank, pos)
            else:
                if key or column:  # a column without a name (a trailing delimiter) is no news
                    others.append(pos)
                continue
            candidates.append((pos, name))
            if name not in chosen or order < chosen[name][0]:
                chosen[name] = (order, pos)
        # The name in two columns, when no column has it whole (or only a CRM header does,
        # and the explicit map names a part).
        parts = tuple(chosen[p][1] for p in NAME_PARTS if p in chosen)
        whole = chosen.get("lead_name")
        if (
            parts
            and whole
            and not (
                whole[0][0] > 0 and any(chosen[p][0][0] == 0 for p in NAME_PARTS if p in chosen)
            )
        ):
            parts = ()
        elif parts and whole:
            del chosen["lead_name"]
        source = {name: header[pos] for name, (_, pos) in chosen.items()}
        if parts:
            source["lead_name"] = " + ".join(header[pos] for pos in parts)
        repeated = []
        for pos, name in candidates:
            if pos in parts:
                continue
            if name in NAME_PARTS and not parts:
                name = "lead_name"
            elif (winner := chosen.get(name)) and winner[1] == pos:
                continue
            repeated.append(f"{_shown(header, pos)} ({name} is read from {source[name]})")
        columns = sorted((pos, name) for name, (_, pos) in chosen.items() if name in LEAD_FIELDS)
        attributes, beyond, unnamed = _attribute_columns(header, others)
        return _Plan(
            columns=tuple(columns),
            width=max((pos + 1 for pos, _ in columns), default=0),
            name_parts=parts,
            attributes=attributes,
            beyond=beyond,
            unnamed=unnamed,
            repeated=tuple(repeated),
            mapped=frozenset(mapped),
            left=tuple(left),
        )


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """`Column=field` items (what `--map` takes) as a dict; a column may hold "=" (the last
    one splits)."""
    out: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column or not target:
            raise LeadFileError(
                f'--map {item!r}: expected "Column=field", e.g. --map "Organization=company_name"'
            )
        if column in out:
            raise LeadFileError(f"--map: column {column!r} is mapped twice")
        out[column] = target
    return out


# --- Text ----------------------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
# Stands in for bytes no encoding reads: a lone surrogate, which no decoded text holds.
_UNDECODABLE = "\ud800"
_LINE_BREAK = re.compile(rb"\r\n?|\n")  # as the reader splits lines (newline="")
_NOT_ASCII = re.compile(r"[^\x00-\x7f\udc80-\udcff]")  # real text beyond ASCII, not escapes
_QUOTED = re.compile(r'"[^"]*"')
_CP1252 = "leadq-cp1252-latin1"


def _latin1_where_cp1252_has_no_character(exc: UnicodeError) -> tuple[str, int]:
    """Windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined: read them as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(_CP1252, _latin1_where_cp1252_has_no_character)


@dataclass
class _Text:
    """A file's lines (line ends kept) and what it took to decode them."""

    lines: Iterator[str]
    fallback_lines: list[int] = field(default_factory=list)  # 1-based lines read as cp1252
    whole_file: bool = True  # all the file read as Windows-1252, not only those lines
    first_bad: str = ""  # where UTF-8 first failed: "byte 0xE9 at offset 2743"
    undecodable: list[int] = field(default_factory=list)  # byte offset of each _UNDECODABLE


def _lines(data: bytes, start: int, encoding: str, errors: str = "strict") -> Iterator[str]:
    """Lines decoded a block at a time, as a text file reads them."""
    buf = io.BytesIO(data)  # shares `data`, no copy
    buf.seek(start)
    return io.TextIOWrapper(buf, encoding=encoding, errors=errors, newline="")


def _decode_marking(data: bytes, start: int, codec: str) -> tuple[str, list[int]]:
    """`data[start:]` decoded, each undecodable sequence replaced by `_UNDECODABLE`, with
    the byte offset of each."""
    view, pos = memoryview(data), start
    parts: list[str] = []
    offsets: list[int] = []
    while True:
        try:
            parts.append(str(view[pos:], codec))
            return "".join(parts), offsets
        except UnicodeDecodeError as exc:
            parts.append(str(view[pos : pos + exc.start], codec))
            parts.append(_UNDECODABLE)
            offsets.append(pos + exc.start)
            pos += exc.end


def _decode(data: bytes) -> _Text:
    """The text of a file that failed to decode in the encoding its start announced: a
    UTF-16 file with what cannot be read marked, or a file that is not all UTF-8 read as
    Windows-1252 (only its lines that are not UTF-8, when the rest holds UTF-8 text)."""
    codec = _UTF16_BOMS.get(data[:2])
    if codec:
        text, offsets = _decode_marking(data, 2, codec)
        return _Text(io.StringIO(text, newline=""), undecodable=offsets)
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    body = memoryview(data)[start:]
    try:
        str(body, "utf-8")
    except UnicodeDecodeError as exc:
        bad = start + exc.start
    else:  # the file changed since it was first read
        return _Text(_lines(data, start, "utf-8"))
    note = f"byte 0x{data[bad]:02X} at offset {bad}"
    if _NOT_ASCII.search(str(body, "utf-8", "surrogateescape")):
        lines, fallback = [], []
        for n, line in enumerate(data[start:].splitlines(keepends=True), 1):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(line.decode("cp1252", _CP1252))
                fallback.append(n)
        return _Text(iter(lines), fallback, whole_file=False, first_bad=note)
    at = len(_LINE_BREAK.findall(data, start, bad)) + 1
    return _Text(_lines(data, start, "cp1252", _CP1252), [at], first_bad=note)


def _listed(what: str, numbers: Sequence[int]) -> str:
    """'row 4', 'rows 4, 9', 'rows 4, 9, ... (12 in all)', 'the header row and row 4' (row 0
    is the header)."""
    if numbers and numbers[0] == 0:
        rest = numbers[1:]
        return "the header row" + (f" and {_listed(what, rest)}" if rest else "")
    if len(numbers) == 1:
        return f"{what} {numbers[0]}"
    more = f", ... ({len(numbers)} in all)" if len(numbers) > LISTED else ""
    return f"{what}s {', '.join(map(str, numbers[:LISTED]))}{more}"


def _encoding_warning(text: _Text, what: str, places: Sequence[int]) -> str:
    if text.whole_file:
        where = _listed(what, places)
        return f"{where} is not UTF-8 ({text.first_bad}): read the file as Windows-1252"
    verb, first = ("is", "") if len(places) == 1 else ("are", "first ")
    return (
        f"{_listed(what, places)} {verb} not UTF-8 ({first}{text.first_bad}): read as "
        "Windows-1252, the rest of the file as UTF-8"
    )


def _repeat_warnings(what: str, repeats: dict[str, list[int]]) -> list[str]:
    out = [
        f"lead_id {lead_id} is on {_listed(what, at)}: only {what} {at[0]} is read, the others "
        "are refused so that two leads are not merged into one history"
        for lead_id, at in list(repeats.items())[:LISTED]
    ]
    if len(repeats) > LISTED:
        out.append(f"... and {len(repeats) - LISTED} more lead_ids on more than one {what}")
    return out


def _lead_id_key(value: Any) -> str | None:
    """A lead_id as duplicates are found: its text without outer whitespace."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


# --- Reading -------------------------------------------------------------------------------


@dataclass
class LeadFile:
    """What a lead file holds, as `read_lead_file` reads it."""

    rows: list[Any]  # dicts of lead fields, or a marker string for a row that is no lead
    warnings: list[str]  # what was refused or ignored, or read in another encoding
    notes: list[str] = field(default_factory=list)  # what was read besides the fields
    # The names kept as attributes, in the file's order: a CSV output's extra columns.
    attributes: tuple[str, ...] = ()


def read_leads(
    path: Path,
    fmt: str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
    mapping: Mapping[str, str] | None = None,
) -> tuple[list[Any], list[str]]:
    """`read_lead_file`'s rows and warnings."""
    read = read_lead_file(path, fmt, max_bytes=max_bytes, max_rows=max_rows, mapping=mapping)
    return read.rows, read.warnings


def read_lead_file(
    path: Path,
    fmt: str | None = None,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
    mapping: Mapping[str, str] | None = None,
) -> LeadFile:
    """Rows as dicts of lead fields (or a marker string for a row that cannot be a lead:
    unreadable, over-long, undecodable, or a lead_id an earlier row has), warnings about
    the file, and notes. `mapping` maps a column (or JSONL key) to a field, over the names
    leadq knows. The other columns are kept as each lead's `attributes` (a note names
    them): CSV cells as text, JSONL values as they are (text, numbers, true/false); an
    empty cell or null is no attribute. Columns past the first MAX_ATTRIBUTES, without a
    usable name, and JSONL values that are objects or lists, are ignored with a warning,
    so that an extra column does not fail every row. A JSONL line's own `attributes` object
    (the API's) is read as its attributes. A file over `max_bytes` or `max_rows` is refused
    as a whole."""
    size = path.stat().st_size
    if size > max_bytes:
        raise LeadFileError(
            f"{path}: {size} bytes is larger than the limit of {max_bytes} (LEADQ_MAX_FILE_BYTES)"
        )
    fmt = file_format(path, fmt)
    columns = ColumnMap(mapping)
    read = _read_csv if fmt == "csv" else _read_jsonl
    with path.open("rb") as fh:
        utf16 = fh.read(2) in _UTF16_BOMS
        fh.seek(0)
        strict = io.TextIOWrapper(fh, encoding="utf-16" if utf16 else "utf-8-sig", newline="")
        try:
            return read(path, _Text(strict), columns, max_rows, max_bytes)
        except UnicodeDecodeError:
            pass  # read it again, knowing what it holds
    return read(path, _decode(path.read_bytes()), columns, max_rows, max_bytes)


def _read_csv(
    path: Path, text: _Text, columns: ColumnMap, max_rows: int, max_bytes: int
) -> LeadFile:
    lines = text.lines
    first = next(lines, "")
    delimiter = sniff_delimiter(first)
    reader = csv.reader(chain((first,), lines), delimiter=delimiter)
    rows: list[Any] = []
    seen: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    fallback = deque(text.fallback_lines)
    fallback_rows: list[int] = []  # the rows they are on; 0: the header
    marks = list(text.undecodable)
    n = 0
    limit = csv.field_size_limit(min(max(max_bytes, csv.field_size_limit()), 2**31 - 1))
    try:  # the file's size bounds a field; an over-long row is reported as that row
        header = next(reader, [])
        if not any(h.strip() for h in header):
            raise LeadFileError(f"{path}: empty file or no header row")
        if marks and any(_UNDECODABLE in h for h in header):
            raise LeadFileError(f"{path}: the header cannot be decoded (byte offset {marks[0]})")
        if fallback and fallback[0] <= reader.line_num:
            fallback_rows.append(0)
            while fallback and fallback[0] <= reader.line_num:
                fallback.popleft()
        plan = columns.plan(header)
        cols, width, parts, extra = plan.columns, plan.width, plan.name_parts, plan.attributes
        for raw in reader:
            if not raw:  # a blank line
                continue
            n += 1
            if fallback and reader.line_num >= fallback[0]:
                fallback_rows.append(n)
                while fallback and fallback[0] <= reader.line_num:
                    fallback.popleft()
            if len(rows) >= max_rows:
                raise LeadFileError(f"{path}: more than {max_rows} rows (LEADQ_MAX_ROWS)")
            if marks and any(_UNDECODABLE in v for v in raw):
                rows.append(f"row {n} cannot be decoded (byte offset {marks[0]})")
                del marks[: sum(v.count(_UNDECODABLE) for v in raw)]
                continue
            row: dict[str, Any]  # text, and the attributes' text by name
            if len(raw) >= width:
                row = {name: raw[pos] for pos, name in cols}
            else:
                row = {name: raw[pos] for pos, name in cols if pos < len(raw)}
            if parts:
                whole = " ".join(p for pos in parts if pos < len(raw) and (p := raw[pos].strip()))
                if whole:
                    row["lead_name"] = whole
            size = sum(map(len, row.values()))
            if extra:
                kept = {
                    name: v for pos, name in extra if pos < len(raw) and (v := raw[pos]).strip()
                }
                if kept:
                    size += sum(map(len, kept.values()))
                    row["attributes"] = kept
            if size > MAX_ROW_CHARS:
                rows.append(f"row {n} is longer than {MAX_ROW_CHARS} characters")
                continue
            lead_id = row.get("lead_id")
            if lead_id and (lead_id := lead_id.strip()):
                before = seen.setdefault(lead_id, n)
                if before != n:
                    repeats.setdefault(lead_id, [before]).append(n)
                    rows.append(f"lead_id {lead_id} already on row {before}")
                    continue
            rows.append(row)
    except csv.Error as exc:
        raise LeadFileError(f"{path}: row {n + 1}: {exc}") from None
    finally:
        csv.field_size_limit(limit)
    warnings = [_encoding_warning(text, "row", fallback_rows)] if fallback_rows else []
    warnings += _attribute_warnings("columns", plan)
    if plan.repeated:
        warnings.append(f"ignored columns that repeat a field: {'; '.join(plan.repeated)}")
    warnings += columns.unmatched(set(plan.mapped))
    warnings += _repeat_warnings("row", repeats)
    names = tuple(name for _, name in plan.attributes)
    notes = [f"kept as attributes: {', '.join(names)}"] if names else []
    return LeadFile(rows, warnings, notes, names)


def _attribute_warnings(what: str, plan: _Plan) -> list[str]:
    """What a header's columns (or a JSONL line's keys) that are no field lost."""
    out = [f"left out {what}: {', '.join(plan.left)}"] if plan.left else []
    if plan.beyond:
        out.append(
            f"ignored {what} past the first {MAX_ATTRIBUTES} kept as attributes: "
            + ", ".join(plan.beyond)
        )
    if plan.unnamed:
        out.append(f"ignored {what} that cannot be attributes: {'; '.join(plan.unnamed)}")
    return out


def sniff_delimiter(header: str) -> str:
    """`,`, `;` or tab, from the header line: the one it holds most of (outside quotes), else
    what csv.Sniffer makes of it, else a comma. (Counting comes first: on a single line the
    Sniffer answers with the first of its preferred delimiters that occurs at all.)"""
    bare = _QUOTED.sub("", header)
    counts = sorted(((bare.count(d), d) for d in DELIMITERS), reverse=True)
    if counts[0][0] > counts[1][0]:
        return counts[0][1]
    try:
        return csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_jsonl(
    path: Path, text: _Text, columns: ColumnMap, max_rows: int, max_bytes: int
) -> LeadFile:
    rows: list[Any] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    marks = list(text.undecodable)
    plans: set[int] = set()
    found: set[str] = set()
    names: dict[str, None] = {}  # attribute names, in the order first met (at most 50)
    more = False  # more names than those
    nested: dict[str, int] = {}  # a key holding an object or a list -> the line first met

    def met(name: str) -> None:
        nonlocal more
        if name not in names:
            if len(names) < MAX_ATTRIBUTES:
                names[name] = None
            else:
                more = True

    for n, line in enumerate(text.lines, 1):
        if not line.strip():
            continue
        if len(rows) >= max_rows:
            raise LeadFileError(f"{path}: more than {max_rows} rows (LEADQ_MAX_ROWS)")
        if marks and _UNDECODABLE in line:
            rows.append(f"line {n} cannot be decoded (byte offset {marks[0]})")
            del marks[: line.count(_UNDECODABLE)]
            continue
        if len(line) > MAX_ROW_CHARS:
            rows.append(f"line {n} is longer than {MAX_ROW_CHARS} characters")
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            rows.append(f"line {n} is not valid JSON")
            continue
        if isinstance(obj, dict):
            given = obj.pop("attributes", None)  # the API's own attributes object
            plan = columns.plan(tuple(obj))
            if id(plan) not in plans:
                plans.add(id(plan))
                found |= plan.mapped
                if plan.repeated:
                    warnings.append(
                        f"line {n}: ignored keys that repeat a field: " + "; ".join(plan.repeated)
                    )
                warnings += (f"line {n}: {w}" for w in _attribute_warnings("keys", plan))
                for _, name in plan.attributes:
                    met(name)
            values = tuple(obj.values())
            attributes: dict[str, Any] = {}
            for pos, name in plan.attributes:
                value = values[pos]
                if isinstance(value, (dict, list)):
                    nested.setdefault(name, n)
                elif value is not None and (not isinstance(value, str) or value.strip()):
                    attributes[name] = value
            if isinstance(given, dict):
                for name in given:
                    met(name)
                given = {**attributes, **given}
            elif given is None:
                given = attributes or None
            obj = {name: values[pos] for pos, name in plan.columns}
            if given is not None:  # not an object: the lead says what is wrong with it
                obj["attributes"] = given
            if plan.name_parts:
                whole = " ".join(
                    p.strip()
                    for pos in plan.name_parts
                    if isinstance(p := values[pos], str) and p.strip()
                )
                if whole:
                    obj["lead_name"] = whole
            lead_id = _lead_id_key(obj.get("lead_id"))
            if lead_id is not None:
                before = seen.setdefault(lead_id, n)
                if before != n:
                    repeats.setdefault(lead_id, [before]).append(n)
                    rows.append(f"lead_id {lead_id} already on line {before}")
                    continue
        rows.append(obj)
    if text.fallback_lines:
        warnings.insert(0, _encoding_warning(text, "line", text.fallback_lines))
    if nested:
        warnings.append(
            "ignored keys holding an object or a list (an attribute is text or a number): "
            + ", ".join(f"{name} (first on line {at})" for name, at in nested.items())
        )
    if more:
        warnings.append(
            f"the lines' attributes have more than {MAX_ATTRIBUTES} names: a CSV output has "
            f"columns for the first {MAX_ATTRIBUTES} (a JSONL output keeps each lead's own)"
        )
    warnings += columns.unmatched(found)
    warnings += _repeat_warnings("line", repeats)
    notes = [f"kept as attributes: {', '.join(names)}"] if names else []
    return LeadFile(rows, warnings, notes, tuple(names))


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
# `leadq export` adds, after those, what the store knows of the lead besides the result,
# then its attributes as one JSON object (the names over all leads are not known until the
# last of them is read, and export streams).
STORED_COLUMNS = ("email", "outcome", "outcome_date")
EXPORT_COLUMNS = (*CSV_COLUMNS, *STORED_COLUMNS, "attributes")


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
    if isinstance(lead, dict) and (attributes := lead.get("attributes")):
        record["attributes"] = attributes  # as the file gave them
    if status == "done" and payload is not None:
        record["result"] = {k: v for k, v in payload.items() if k not in OUTPUT_DROP}
    elif payload is not None:
        record["error"] = payload
    return record


def export_record(n: int, lead: dict[str, Any]) -> dict[str, Any]:
    """One stored lead (`Store.latest_with_outcomes`) as an export writes it: who it is, its
    latest outcome, its attributes (as its latest input gave them; no key when it has none),
    its latest result."""
    result = lead.pop("result")
    record = {"row": n, **lead, "status": "ok"}
    if attributes := (result.get("input") or {}).get("attributes"):
        record["attributes"] = attributes
    record["result"] = {k: v for k, v in result.items() if k != "input"}
    return record


def _csv_row(record: dict[str, Any], lead: Any) -> dict[str, Any]:
    company = lead.get("company_name") if isinstance(lead, dict) else record.get("company_name")
    out: dict[str, Any] = {
        "row": record["row"],
        "lead_id": record["lead_id"],
        "lead_name": record["lead_name"],
        "status": record["status"],
        "company_name": company,
        **{col: record.get(col) for col in STORED_COLUMNS},
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


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell that a spreadsheet shows and does not run: text that starts with
    `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, unless it is a plain
    number (`-0.25`, `+3`), so scores and costs stay numbers. Other values are returned as
    they are."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def open_output(path: Path, fmt: str, *, excel: bool = False) -> IO[str]:
    """`path` opened for `write_records`: UTF-8, with a byte-order mark for CSV when `excel`
    asks for one (without it Excel reads the file in the machine's code page and mangles
    accents). JSONL never has one."""
    encoding = "utf-8-sig" if excel and fmt == "csv" else "utf-8"
    return path.open("w", encoding=encoding, newline="")


def _attribute_headers(columns: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """Each attribute name -> its CSV column: the name, or `attributes.<name>` (again, until
    free) when another column has it (an input column called "status")."""
    taken = set(columns)
    out: dict[str, str] = {}
    for name in names:
        header = name
        while header in taken:
            header = f"attributes.{header}"
        taken.add(header)
        out[name] = header
    return out


def write_records(
    fh: IO[str],
    fmt: str,
    records: Iterable[dict[str, Any]],
    leads: Sequence[Any] | Mapping[int, Any] | None = None,
    columns: Sequence[str] = CSV_COLUMNS,
    attributes: Sequence[str] = (),
) -> int:
    """Write records as JSONL (a record's `attributes` an object) or CSV: `columns`, then
    one column for each of the `attributes` names (the input file's extra columns), every
    cell through `safe_cell`; an `attributes` column among `columns` holds a record's
    attributes as one JSON object. `leads`: the input rows, by row number less one.
    Returns how many."""
    writer = None
    if fmt == "csv":
        extra = _attribute_headers(columns, attributes)
        as_json = "attributes" in columns
        writer = csv.DictWriter(fh, [*columns, *extra.values()], extrasaction="ignore")
        writer.writeheader()
    n = 0
    for record in records:
        n += 1
        if writer:
            lead = leads[record["row"] - 1] if leads and "row" in record else None
            row = _csv_row(record, lead)
            if given := record.get("attributes"):
                if as_json:
                    row["attributes"] = json.dumps(given, ensure_ascii=False, separators=(",", ":"))
                for name, header in extra.items():
                    row[header] = given.get(name)
            writer.writerow({k: safe_cell(v) for k, v in row.items()})
        else:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


def row_error(message: str) -> LeadError:
    return LeadError(error="invalid_input", message=message, retryable=False, field="row")
