// Lead files in the browser, read as src/leadq/leadfiles.py reads them for the CLI:
// CSV with a header row (a comma, semicolon or tab between columns) or JSONL, in UTF-8,
// Windows-1252 where the bytes are not UTF-8, or UTF-16 with a byte-order mark; columns named
// as the input fields or as CRM exports name them (columns.js), the others kept as the
// lead's attributes unless the person chooses otherwise. The page reads a file to show how
// its columns will be read; the server reads it again when it is sent as a job.

import { ATTRIBUTE, ColumnMap, MAX_ATTRIBUTES, leadFrom } from "./columns.js";

export const MAX_FILE_BYTES = 200 * 1024 * 1024;
const MAX_ROW_CHARS = 64 * 1024;
const LISTED = 10; // rows or ids named in one warning; the rest are counted

export class LeadFileError extends Error {}

export function fileFormat(name) {
  const suffix = (/\.([^.]+)$/.exec(name.toLowerCase()) || [])[1];
  return { csv: "csv", jsonl: "jsonl", ndjson: "jsonl", json: "jsonl" }[suffix] || null;
}

// 'row 4', 'rows 4, 9', 'rows 4, 9, ... (12 in all)', 'the header row and row 4' (row 0 is
// the header), as leadfiles._listed names them.
function listed(what, numbers) {
  if (numbers.length && numbers[0] === 0) {
    const rest = numbers.slice(1);
    return `the header row${rest.length ? ` and ${listed(what, rest)}` : ""}`;
  }
  if (numbers.length === 1) return `${what} ${numbers[0]}`;
  const more = numbers.length > LISTED ? `, ... (${numbers.length} in all)` : "";
  return `${what}s ${numbers.slice(0, LISTED).join(", ")}${more}`;
}

// A file's bytes -> {text, fallback: [1-based lines read as Windows-1252], whole}: UTF-16
// with a byte-order mark; else UTF-8 (a byte-order mark dropped); else each line that is not
// UTF-8 read as Windows-1252 (`whole`: no line holds UTF-8 text beyond ASCII, so the file is
// all Windows-1252). The browser's windows-1252 reads 0x81, 0x8D, 0x8F, 0x90 and 0x9D as
// Latin-1, as leadfiles does.
export function decodeFile(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder("utf-16le").decode(bytes.subarray(2)), fallback: [] };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder("utf-16be").decode(bytes.subarray(2)), fallback: [] };
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const body = bytes.subarray(start);
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  try {
    return { text: utf8.decode(body), fallback: [] };
  } catch {
    // read again a line at a time, below
  }
  const cp1252 = new TextDecoder("windows-1252");
  const parts = [];
  const fallback = [];
  let whole = true;
  let from = 0;
  for (let i = 0; i <= body.length; i++) {
    const end = i === body.length ? i
      : body[i] === 0x0a ? i + 1
        : body[i] === 0x0d ? (body[i + 1] === 0x0a ? i + 2 : i + 1) : -1;
    if (end < 0 || end === from) continue;
    const line = body.subarray(from, end);
    try {
      const text = utf8.decode(line);
      if (/[^\x00-\x7f]/.test(text)) whole = false;
      parts.push(text);
    } catch {
      parts.push(cp1252.decode(line));
      fallback.push(parts.length);
    }
    from = end;
    i = end - 1;
  }
  return { text: parts.join(""), fallback, whole };
}

function encodingWarning(decoded, what, places) {
  if (decoded.whole) return `${listed(what, places.slice(0, 1))} is not UTF-8: read the file as Windows-1252`;
  const verb = places.length === 1 ? "is" : "are";
  return `${listed(what, places)} ${verb} not UTF-8: read as Windows-1252, the rest of the file as UTF-8`;
}

// `,`, `;` or tab, from the header line: the one it holds most of outside quotes, else a
// comma (leadfiles.sniff_delimiter).
export function sniffDelimiter(header) {
  const bare = header.replace(/"[^"]*"/g, "");
  const counts = [",", ";", "\t"].map((d) => [bare.split(d).length - 1, d]).sort((a, b) => b[0] - a[0]);
  return counts[0][0] > counts[1][0] ? counts[0][1] : ",";
}

// CSV text -> rows of strings, each with the 1-based lines it spans (`first`, `last`), as
// Python's csv module reads it: quotes open a field only at its start, "" inside quotes is a
// quote, and quoted fields may span lines.
export function parseCSV(text, delimiter = ",") {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let first = 1;
  const end = () => {
    row.push(field);
    if (!(row.length === 1 && row[0] === "")) rows.push(Object.assign(row, { first, last: line })); // not a blank line
    row = [];
    field = "";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') {
        field += c;
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
      } else if (text[i + 1] === '"') { field += '"'; i++; }
      else quoted = false;
    } else if (c === '"' && field === "") {
      quoted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      end();
      line++;
      first = line;
    } else {
      field += c;
    }
  }
  if (field !== "" || row.length) end();
  return rows;
}

// A file's bytes (or text) -> {format, header, rows, decoded, lines}: what does not depend on
// how its columns are read, so that a change of the column choices needs no second read.
export function readSource(name, data) {
  const format = fileFormat(name);
  if (!format) throw new LeadFileError(`${name}: cannot tell the format from the suffix (use .csv or .jsonl)`);
  const decoded = typeof data === "string" ? { text: data.replace(/^\uFEFF/, ""), fallback: [] } : decodeFile(data);
  if (format === "csv") {
    const firstLine = decoded.text.split(/\r\n|\r|\n/, 1)[0];
    const [header, ...rows] = parseCSV(decoded.text, sniffDelimiter(firstLine));
    if (!header || !header.some((h) => h.trim())) throw new LeadFileError(`${name}: empty file or no header row`);
    return { name, format, header: [...header], headerLines: header, rows, decoded };
  }
  const lines = decoded.text.split(/\r\n|\r|\n/);
  const keys = new Map(); // every object's keys, in the order first seen, for the column choices
  const rows = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const n = i + 1;
    if (line.length > MAX_ROW_CHARS) {
      rows.push({ n, problem: `line ${n} is longer than ${MAX_ROW_CHARS} characters` });
      return;
    }
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      rows.push({ n, problem: `line ${n} is not valid JSON` });
      return;
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const key of Object.keys(value)) if (key !== "attributes") keys.set(key, true);
    }
    rows.push({ n, value });
  });
  return { name, format, header: [...keys.keys()], rows, decoded };
}

function repeatWarnings(what, repeats) {
  const out = [...repeats].slice(0, LISTED).map(([id, at]) =>
    `lead_id ${id} is on ${listed(what, at)}: only ${what} ${at[0]} is read, the others are refused so that two leads are not merged into one history`);
  if (repeats.size > LISTED) out.push(`... and ${repeats.size - LISTED} more lead_ids on more than one ${what}`);
  return out;
}

// A lead_id as duplicates are found: its text without outer whitespace.
function idKey(value) {
  if (typeof value === "string") return value.trim() || null;
  return typeof value === "number" && Number.isFinite(value) ? String(value) : null;
}

// What a header's columns (or a JSONL line's keys) that are no field lost
// (leadfiles._attribute_warnings), and what the person left out.
function attributeWarnings(what, plan) {
  const out = [];
  if (plan.left.length) out.push(`left out ${what}: ${plan.left.join(", ")}`);
  if (plan.beyond.length) out.push(`ignored ${what} past the first ${MAX_ATTRIBUTES} kept as attributes: ${plan.beyond.join(", ")}`);
  if (plan.unnamed.length) out.push(`ignored ${what} that cannot be attributes: ${plan.unnamed.join("; ")}`);
  return out;
}

// readSource's answer -> {rows: [{row, lead} or {row, problem}], warnings, notes, attributes,
// plan}, with the columns read by `columns` (a ColumnMap), as leadfiles.read_lead_file reads
// them: `attributes` are the names kept as attributes (a CSV download's extra columns), in
// the file's order. A row whose lead_id an earlier row has is refused.
export function leadsFrom(source, columns) {
  const rows = [];
  const warnings = [];
  const seen = new Map();
  const repeats = new Map();
  const what = source.format === "csv" ? "row" : "line";
  const once = (id, n) => {
    const key = idKey(id);
    if (key === null) return null;
    if (!seen.has(key)) seen.set(key, n);
    if (seen.get(key) === n) return null;
    if (!repeats.has(key)) repeats.set(key, [seen.get(key)]);
    repeats.get(key).push(n);
    return `lead_id ${key} already on ${what} ${seen.get(key)}`;
  };
  const plan = columns.plan(source.header);
  const fallback = new Set(source.decoded.fallback);
  let names = [];
  if (source.format === "csv") {
    const spans = (r) => { for (let l = r.first; l <= r.last; l++) if (fallback.has(l)) return true; return false; };
    const places = spans(source.headerLines) ? [0] : [];
    source.rows.forEach((raw, i) => {
      const n = i + 1;
      const row = rows.length + 1;
      if (spans(raw)) places.push(n);
      const lead = leadFrom(plan, raw);
      const chars = Object.values({ ...lead, ...lead.attributes, attributes: "" }).reduce((sum, v) => sum + String(v).length, 0);
      if (chars > MAX_ROW_CHARS) {
        rows.push({ row, problem: `row ${n} is longer than ${MAX_ROW_CHARS} characters` });
        return;
      }
      const repeated = once(lead.lead_id, n);
      rows.push(repeated ? { row, problem: repeated } : { row, lead });
    });
    if (places.length) warnings.push(encodingWarning(source.decoded, "row", places));
    warnings.push(...attributeWarnings("columns", plan));
    if (plan.repeated.length) warnings.push(`ignored columns that repeat a field: ${plan.repeated.join("; ")}`);
    names = plan.attributes.map(([, name]) => name);
  } else {
    if (source.decoded.fallback.length) warnings.push(encodingWarning(source.decoded, "line", source.decoded.fallback));
    const told = new Set();
    const met = new Set(); // attribute names, in the order first met (at most MAX_ATTRIBUTES)
    let more = false;
    const meet = (name) => {
      if (met.has(name)) return;
      if (met.size < MAX_ATTRIBUTES) met.add(name);
      else more = true;
    };
    const nestedAt = new Map(); // a key holding an object or a list -> the line first met
    for (const { n, value, problem } of source.rows) {
      const row = rows.length + 1;
      if (problem !== undefined) {
        rows.push({ row, problem });
        continue;
      }
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        rows.push({ row, lead: value }); // not an object: the server says what is wrong
        continue;
      }
      const { attributes: given, ...fields } = value; // a line's own attributes: the API's shape
      const linePlan = columns.plan(Object.keys(fields));
      if (!told.has(linePlan)) {
        told.add(linePlan);
        if (linePlan.repeated.length) warnings.push(`line ${n}: ignored keys that repeat a field: ${linePlan.repeated.join("; ")}`);
        warnings.push(...attributeWarnings("keys", linePlan).map((w) => `line ${n}: ${w}`));
        for (const [, name] of linePlan.attributes) meet(name);
      }
      const nested = [];
      const lead = leadFrom(linePlan, Object.values(fields), nested);
      for (const name of nested) if (!nestedAt.has(name)) nestedAt.set(name, n);
      if (given && typeof given === "object" && !Array.isArray(given)) {
        for (const name of Object.keys(given)) meet(name);
        lead.attributes = { ...lead.attributes, ...given };
      } else if (given !== undefined && given !== null) {
        lead.attributes = given; // the server says what is wrong with it
      }
      const repeated = once(lead.lead_id, n);
      rows.push(repeated ? { row, problem: repeated } : { row, lead });
    }
    if (nestedAt.size) {
      warnings.push(`ignored keys holding an object or a list (an attribute is text or a number): ${
        [...nestedAt].map(([name, at]) => `${name} (first on line ${at})`).join(", ")}`);
    }
    if (more) {
      warnings.push(`the lines' attributes have more than ${MAX_ATTRIBUTES} names: a CSV download has columns for the first ${MAX_ATTRIBUTES} (a JSONL download keeps each lead's own)`);
    }
    names = [...met];
  }
  warnings.push(...repeatWarnings(what, repeats));
  const notes = names.length ? [`kept as attributes: ${names.join(", ")}`] : [];
  return { rows, warnings, notes, attributes: names, plan };
}

// A file's bytes (or text) -> leadsFrom's answer. `aliases`: the CRM header table
// (columns.columnTable); `choices`: {column: a field, "attribute" or "ignore"} for the
// columns the table does not name; `others`: what the rest of those become.
export function readLeads(name, data, { aliases = null, choices = {}, others = ATTRIBUTE } = {}) {
  return leadsFrom(readSource(name, data), new ColumnMap(aliases, choices, others));
}
