// Which lead field each column of a file gives, as leadfiles.ColumnMap works it out for the
// CLI: the person's own choices first, then leadq's field names, then the CRM headers of
// data/crm_columns.toml (served as GET api/lead-columns), all compared by `headerKey`. Of
// two columns for one field, the chosen one, else the better-ranked name, else the first is
// read; the other is reported. First and last name are joined into lead_name when no column
// holds the whole name. The other columns are kept as the lead's attributes under their own
// names (as the CLI keeps them), unless the person leaves them out or maps them to a field.

import { getJSON } from "./api.js";
import { LEAD_COLUMNS } from "./fields.js";

export const NAME_PARTS = ["first_name", "last_name"];
export const MAP_FIELDS = [...LEAD_COLUMNS, ...NAME_PARTS]; // what a column can be mapped to
// A person's choice for a column besides a field: send it as an attribute (the lead's
// `attributes`, which the model reads and the lead is stored with), or leave it out.
export const ATTRIBUTE = "attribute";
export const IGNORE = "ignore";
// core/lead.py: at most MAX_ATTRIBUTES attributes, with names up to ATTRIBUTE_NAME characters.
export const MAX_ATTRIBUTES = 50;
const ATTRIBUTE_NAME = 100;
const LEAD_SET = new Set(LEAD_COLUMNS);
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u{e0000}-\u{e007f}]/gu;

// A header as it is compared (leadfiles.header_key): without case, spacing or punctuation,
// so that "Lead Name", "lead-name" and "LEAD_NAME" are all `leadname`.
export function headerKey(name) {
  return String(name).toLowerCase().replaceAll("ß", "ss").replace(/[^\p{L}\p{N}]+/gu, "");
}

// Text as a lead keeps it (core/lead.py clean_text): without control and zero-width
// characters and outer whitespace. An attribute's name is kept so.
export function cleanText(value) {
  return String(value).replace(CONTROL, "").trim();
}

let table = null;

// The CLI's header table, {field: [header keys, the preferred first]}, fetched once. Without
// it (the server is unreachable) only leadq's own field names are known.
export function columnTable() {
  table ??= getJSON("api/lead-columns").then((answer) => answer.data).catch(() => {
    table = null;
    return null;
  });
  return table;
}

const before = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

function shown(header, pos) {
  return String(header[pos]).trim() || `column ${pos + 1} (no name)`;
}

export class ColumnMap {
  // `aliases`: columnTable()'s answer (or null); `choices`: {column: a field, ATTRIBUTE or
  // IGNORE}; `others`: what the other columns that are no field become (ATTRIBUTE or IGNORE).
  constructor(aliases, choices = {}, others = ATTRIBUTE) {
    this.others = others;
    this.known = new Map(MAP_FIELDS.map((name) => [headerKey(name), [name, -1]]));
    for (const [name, keys] of Object.entries(aliases || {})) {
      if (!MAP_FIELDS.includes(name)) continue;
      keys.forEach((key, rank) => {
        if (!this.known.has(key)) this.known.set(key, [name, rank]);
      });
    }
    this.choices = new Map();
    for (const [column, target] of Object.entries(choices)) {
      if (target === IGNORE || target === ATTRIBUTE || MAP_FIELDS.includes(target)) this.choices.set(headerKey(column), target);
    }
    this.plans = new Map();
  }

  // Whether `column` is a field by leadq's names or the CRM table (it then gets no choice).
  knows(column) {
    return this.known.has(headerKey(column));
  }

  plan(header) {
    const key = JSON.stringify(header);
    let plan = this.plans.get(key);
    if (!plan) {
      if (this.plans.size > 1000) this.plans.clear(); // JSONL lines with ever other keys
      plan = this.makePlan(header);
      this.plans.set(key, plan);
    }
    return plan;
  }

  // {columns: [[pos, field]], parts: [pos], attributes: [[pos, name]], left: [name] (left
  //  out by choice), beyond: [name], unnamed: [text], repeated: [text],
  //  read: [{column, as, field, from}] (each column, for the page to show)}
  makePlan(header) {
    const chosen = new Map(); // field -> {order, pos}
    const candidates = [];
    const others = [];
    const left = [];
    const read = header.map((column) => ({ column: String(column), as: "ignored", field: null }));
    header.forEach((column, pos) => {
      const key = headerKey(column);
      const choice = this.choices.get(key);
      let name;
      let order;
      if (choice && choice !== IGNORE && choice !== ATTRIBUTE) {
        name = choice;
        order = [0, 0, pos];
      } else if (!choice && this.known.has(key)) {
        const [field, rank] = this.known.get(key);
        name = field;
        order = [1, rank, pos];
      } else {
        if (!key && !column) return; // a column without a name (a trailing delimiter) is no news
        if ((choice || this.others) === IGNORE) left.push(shown(header, pos));
        else others.push(pos);
        return;
      }
      candidates.push([pos, name]);
      const got = chosen.get(name);
      if (!got || before(order, got.order) < 0) chosen.set(name, { order, pos });
    });
    // The name in two columns, when no column has it whole (or only a built-in name does and
    // the person chose a part).
    let parts = NAME_PARTS.filter((p) => chosen.has(p)).map((p) => chosen.get(p).pos);
    const whole = chosen.get("lead_name");
    if (parts.length && whole
      && !(whole.order[0] > 0 && NAME_PARTS.some((p) => chosen.has(p) && chosen.get(p).order[0] === 0))) {
      parts = [];
    } else if (parts.length && whole) {
      chosen.delete("lead_name");
    }
    const source = new Map([...chosen].map(([name, { pos }]) => [name, header[pos]]));
    if (parts.length) source.set("lead_name", parts.map((pos) => header[pos]).join(" + "));
    const repeated = [];
    for (const [pos, candidate] of candidates) {
      let name = candidate;
      if (parts.includes(pos)) {
        Object.assign(read[pos], { as: "part", field: "lead_name" });
        continue;
      }
      if (NAME_PARTS.includes(name) && !parts.length) {
        name = "lead_name";
      } else if (chosen.get(name)?.pos === pos) {
        Object.assign(read[pos], { as: "field", field: name });
        continue;
      }
      Object.assign(read[pos], { as: "repeat", field: name, from: source.get(name) });
      repeated.push(`${shown(header, pos)} (${name} is read from ${source.get(name)})`);
    }
    const columns = [...chosen]
      .filter(([name]) => LEAD_SET.has(name))
      .map(([name, { pos }]) => [pos, name])
      .sort((a, b) => a[0] - b[0]);
    // The columns that are no field, kept as attributes (leadfiles._attribute_columns): the
    // first MAX_ATTRIBUTES with a name a lead can keep.
    const kept = new Map();
    const beyond = [];
    const unnamed = [];
    for (const pos of others) {
      const name = cleanText(header[pos]);
      if (!name) unnamed.push(`column ${pos + 1} (no name)`);
      else if (name.length > ATTRIBUTE_NAME) unnamed.push(`${name.slice(0, 40)}… (a name over ${ATTRIBUTE_NAME} characters)`);
      else if (kept.has(name)) unnamed.push(`${name} (column ${pos + 1}: column ${kept.get(name) + 1} has that name)`);
      else if (kept.size >= MAX_ATTRIBUTES) beyond.push(name);
      else {
        kept.set(name, pos);
        Object.assign(read[pos], { as: "attribute", field: name });
      }
    }
    const attributes = [...kept].map(([name, pos]) => [pos, name]);
    return { columns, parts, attributes, left, beyond, unnamed, repeated, read };
  }
}

// A row's values (a CSV row's cells, a JSONL object's values) as a lead, by `plan`; the
// attribute values that are objects or lists (which an attribute cannot be) in `nested`.
export function leadFrom(plan, values, nested = []) {
  const lead = {};
  for (const [pos, name] of plan.columns) if (pos < values.length) lead[name] = values[pos];
  if (plan.parts.length) {
    const whole = plan.parts
      .map((pos) => values[pos])
      .filter((v) => typeof v === "string" && v.trim())
      .map((v) => v.trim())
      .join(" ");
    if (whole) lead.lead_name = whole;
  }
  const attributes = {};
  for (const [pos, name] of plan.attributes) {
    const value = values[pos];
    if (value !== null && typeof value === "object") nested.push(name);
    else if (value !== undefined && value !== null && (typeof value !== "string" || value.trim())) attributes[name] = value;
  }
  if (Object.keys(attributes).length) lead.attributes = attributes;
  return lead;
}
