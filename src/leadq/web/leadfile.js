// Lead files in the browser, read and written as src/leadq/leadfiles.py does for the CLI:
// CSV with a header row, or JSONL; columns named like the input fields, unknown ones dropped
// with a warning; results written as the same JSONL records and CSV columns as `leadq qualify`.

import { LEAD_COLUMNS } from "./fields.js";

export const MAX_FILE_BYTES = 200 * 1024 * 1024;
const MAX_ROW_CHARS = 64 * 1024;
const KNOWN = new Set(LEAD_COLUMNS);

// leadfiles.CSV_COLUMNS
export const CSV_COLUMNS = [
  "row", "qualification_id", "lead_ref", "lead_id", "lead_name", "company_name", "status",
  "overall_score", "fit_score", "budget_score", "urgency_score", "authority_score", "confidence",
  "recommended_action", "reasoning", "reasoning_for_action", "key_insights", "positive_indicators",
  "risk_factors", "follow_up_questions", "suggested_messaging", "flags", "provider", "model",
  "prompt_version", "latency_ms", "input_tokens", "output_tokens", "cost_usd", "error",
  "error_message", "retryable",
];
const OUTPUT_DROP = ["input", "input_hash", "created_at"];

export class LeadFileError extends Error {}

export function fileFormat(name) {
  const suffix = (/\.([^.]+)$/.exec(name.toLowerCase()) || [])[1];
  return { csv: "csv", jsonl: "jsonl", ndjson: "jsonl", json: "jsonl" }[suffix] || null;
}

// CSV text -> rows of strings, as Python's csv module reads it: quotes open a field only at
// its start, "" inside quotes is a quote, and quoted fields may span lines.
export function parseCSV(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') { field += '"'; i++; }
      else quoted = false;
    } else if (c === '"' && field === "") {
      quoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === "")); // blank lines
}

// The error a row gets when it cannot be read at all (leadfiles.row_error).
export function rowError(message) {
  return { error: "invalid_input", message, retryable: false, field: "row", provider: null, lead_id: null };
}

// A file's text -> {rows: [{row, lead} or {row, problem}], warnings}.
export function readLeads(name, text) {
  const fmt = fileFormat(name);
  if (!fmt) throw new LeadFileError(`${name}: cannot tell the format from the suffix (use .csv or .jsonl)`);
  text = text.replace(/^\uFEFF/, "");
  const rows = [];
  const warnings = [];
  if (fmt === "csv") {
    const [header, ...body] = parseCSV(text);
    if (!header || !header.length) throw new LeadFileError(`${name}: empty file or no header row`);
    const extra = header.filter((h) => !KNOWN.has(h));
    if (extra.length) warnings.push(`ignored unknown columns: ${extra.join(", ")}`);
    for (const values of body) {
      const lead = {};
      header.forEach((column, i) => {
        if (KNOWN.has(column) && i < values.length) lead[column] = values[i];
      });
      rows.push({ row: rows.length + 1, lead });
    }
  } else {
    text.split(/\r\n|\r|\n/).forEach((line, i) => {
      const n = i + 1;
      if (!line.trim()) return;
      const row = rows.length + 1;
      if (line.length > MAX_ROW_CHARS) {
        rows.push({ row, problem: `line ${n} is longer than ${MAX_ROW_CHARS} characters` });
        return;
      }
      let value;
      try {
        value = JSON.parse(line);
      } catch {
        rows.push({ row, problem: `line ${n} is not valid JSON` });
        return;
      }
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const dropped = Object.keys(value).filter((k) => !KNOWN.has(k)).sort();
        if (dropped.length) warnings.push(`line ${n}: ignored unknown keys: ${dropped.join(", ")}`);
        value = Object.fromEntries(Object.entries(value).filter(([k]) => KNOWN.has(k)));
      }
      rows.push({ row, lead: value }); // not an object: the server says what is wrong
    });
  }
  return { rows, warnings };
}

// One output record, as leadfiles.job_record writes it.
export function outputRecord(entry) {
  const lead = entry.lead;
  const name = lead && typeof lead === "object" ? lead.lead_name : null;
  const payload = entry.result || entry.error || null;
  const record = {
    row: entry.row,
    lead_id: payload?.lead_id ?? null,
    lead_name: typeof name === "string" ? name.trim() || null : null,
    status: entry.result ? "ok" : entry.error ? "error" : "pending",
  };
  if (entry.result) {
    record.result = Object.fromEntries(Object.entries(entry.result).filter(([k]) => !OUTPUT_DROP.includes(k)));
  } else if (entry.error) {
    record.error = entry.error;
  }
  return record;
}

export function toJSONL(entries) {
  return entries.map((e) => `${JSON.stringify(outputRecord(e))}\n`).join("");
}

function csvValue(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "boolean" ? (value ? "True" : "False") : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// CSV with leadfiles.CSV_COLUMNS, rows as leadfiles._csv_row fills them.
export function toCSV(entries) {
  const lines = [CSV_COLUMNS.join(",")];
  for (const entry of entries) {
    const record = outputRecord(entry);
    const lead = entry.lead && typeof entry.lead === "object" ? entry.lead : {};
    const out = {
      row: record.row, lead_id: record.lead_id, lead_name: record.lead_name,
      status: record.status, company_name: lead.company_name,
    };
    if (record.result) {
      const res = record.result;
      for (const column of CSV_COLUMNS) {
        if (column in res) out[column] = Array.isArray(res[column]) ? res[column].join(" | ") : res[column];
      }
      out.flags = (res.flags || []).join(";");
      out.input_tokens = res.usage?.input_tokens;
      out.output_tokens = res.usage?.output_tokens;
    } else if (record.error) {
      Object.assign(out, { error: record.error.error, error_message: record.error.message, retryable: record.error.retryable });
    }
    lines.push(CSV_COLUMNS.map((c) => csvValue(out[c])).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}
