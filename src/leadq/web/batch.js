// The Batch view: read a CSV or JSONL file in the browser as the CLI reads it (leadfile.js,
// columns.js), let the person choose what the columns leadq does not know become, send the
// leads to POST api/leads/qualify-as-completed in chunks, and fill a sortable, filterable
// table as each row's result or error arrives. Rows that failed for a reason a retry can
// fix (`retryable`) can be retried; results download as CSV or JSONL.

import { ApiError, postEvents } from "./api.js";
import { ATTRIBUTE, ColumnMap, IGNORE, MAP_FIELDS, columnTable } from "./columns.js";
import { ACTIONS, actionBadge, download, el, miniBar, pct, plural } from "./dom.js";
import { FORM_FIELDS, LEAD_COLUMNS } from "./fields.js";
import { LeadFileError, MAX_FILE_BYTES, leadsFrom, readSource, rowError, toCSV, toJSONL } from "./leadfile.js";

const byId = (id) => document.getElementById(id);
const CHUNK_ROWS = 100; // well under LEADQ_MAX_BATCH's default of 1,000
const CHUNK_BYTES = 512 * 1024; // well under LEADQ_MAX_BODY_BYTES's default of 1 MB
const SHOWN_ROWS = 500;

const text = (value) => (typeof value === "string" ? value : "");
const COLUMNS = [
  { key: "row", label: "Row", value: (e) => e.row },
  { key: "name", label: "Lead", value: (e) => text(e.lead?.lead_name).toLowerCase() },
  { key: "company", label: "Company", value: (e) => text(e.lead?.company_name).toLowerCase() },
  { key: "score", label: "Score", value: (e) => e.result?.overall_score ?? -1 },
  { key: "action", label: "Action", value: (e) => ACTIONS[e.result?.recommended_action] || "" },
  { key: "confidence", label: "Confidence", value: (e) => e.result?.confidence ?? -1 },
  { key: "status", label: "Result", value: (e) => `${e.state} ${e.error?.message || ""}` },
];
const FIELD_LABELS = {
  ...Object.fromEntries(FORM_FIELDS.map((f) => [f.name, f.label])),
  first_name: "First name (joined into Name)",
  last_name: "Last name (joined into Name)",
};
// What a column leadq does not know becomes until the person chooses otherwise: an
// attribute, as `leadq qualify` keeps it.
const DEFAULT_CHOICE = ATTRIBUTE;
const CHOICES = [[ATTRIBUTE, "Keep as attribute"], [IGNORE, "Leave out"],
  ...MAP_FIELDS.map((name) => [name, `Map to ${FIELD_LABELS[name]}`])];

export class BatchView {
  constructor() {
    this.entries = [];
    this.fileName = "";
    this.source = null; // the file as read, before its columns are mapped
    this.aliases = null;
    this.choices = {}; // column -> ATTRIBUTE, IGNORE or a field, for columns leadq does not know
    this.attributes = []; // the names kept as attributes: the CSV download's extra columns
    this.notes = [];
    this.started = false;
    this.mapping = byId("batch-mapping");
    this.sort = { key: "row", dir: 1 };
    this.controller = null;
    this.renderQueued = false;
    this.status = byId("batch-status");
    this.counts = byId("batch-counts");
    this.progress = byId("batch-progress");
    this.tbody = byId("batch-table").querySelector("tbody");
    this.filter = byId("batch-filter");
    this.show = byId("batch-show");
    this.buttons = Object.fromEntries(
      ["start", "cancel", "retry-all", "csv", "jsonl"].map((name) => [name, byId(`batch-${name}`)]));
    byId("batch-columns").textContent = LEAD_COLUMNS.join(", ");
    const shows = [["all", "All rows"], ["ok", "Succeeded"], ["error", "Failed"], ["pending", "Not yet done"],
      ...Object.entries(ACTIONS).map(([action, label]) => [`action:${action}`, label])];
    this.show.replaceChildren(...shows.map(([value, label]) => el("option", { value, text: label })));
    this.renderHead();
    byId("batch-file").addEventListener("change", (event) => this.load(event.target.files[0]));
    this.buttons.start.addEventListener("click", () => this.run(this.entries.filter((e) => e.state === "pending")));
    this.buttons.cancel.addEventListener("click", () => this.controller?.abort());
    this.buttons["retry-all"].addEventListener("click", () => this.run(this.entries.filter(canRetry)));
    this.buttons.csv.addEventListener("click", () => download(this.outName("csv"), toCSV(this.entries, this.attributes), "text/csv"));
    this.buttons.jsonl.addEventListener("click", () => download(this.outName("jsonl"), toJSONL(this.entries), "application/x-ndjson"));
    this.filter.addEventListener("input", () => this.changed());
    this.show.addEventListener("change", () => this.changed());
  }

  outName(suffix) {
    return `${this.fileName.replace(/\.[^.]+$/, "") || "leads"}.results.${suffix}`;
  }

  async load(file) {
    if (!file || this.controller) return;
    const warnings = byId("batch-warnings");
    warnings.replaceChildren();
    Object.assign(this, { entries: [], source: null, choices: {}, attributes: [], notes: [], started: false, elapsed: "" });
    this.fileName = file.name;
    this.mapping.hidden = true;
    try {
      if (file.size > MAX_FILE_BYTES) throw new LeadFileError(`${file.name}: larger than ${MAX_FILE_BYTES / 2 ** 20} MB`);
      const [bytes, aliases] = await Promise.all([file.arrayBuffer(), columnTable()]);
      this.aliases = aliases;
      if (!aliases) this.notes.push("the server's table of CRM column names could not be read: only leadq's own field names are known");
      this.source = readSource(file.name, bytes);
      this.readColumns();
    } catch (exc) {
      if (!(exc instanceof LeadFileError)) throw exc;
      warnings.append(el("li", { class: "problem", role: "alert", text: exc.message }));
      this.setState("empty");
      this.renderNow();
    }
  }

  // The file's rows as leads, with the columns read as the table and the person's choices say.
  readColumns() {
    const columns = new ColumnMap(this.aliases, this.choices, DEFAULT_CHOICE);
    const { rows, warnings: problems, notes, attributes, plan } = leadsFrom(this.source, columns);
    this.attributes = attributes;
    this.entries = rows.map(({ row, lead, problem }) => (problem === undefined
      ? { row, lead, state: "pending", result: null, error: null }
      : { row, lead: null, state: "error", result: null, error: rowError(problem) }));
    const warnings = byId("batch-warnings");
    warnings.replaceChildren(...[...this.notes, ...notes, ...problems].map((note) => el("li", { text: note })));
    if (!this.entries.length) warnings.append(el("li", { text: `${this.fileName} has no rows` }));
    this.renderMapping(plan, columns);
    this.setState(this.entries.length ? "ready" : "empty");
    this.renderNow();
  }

  // Each column and what it is read as; a choice for each column leadq does not know.
  renderMapping(plan, columns) {
    const tbody = byId("batch-mapping-table").querySelector("tbody");
    tbody.replaceChildren(...plan.read.map(({ column, as, field, from }) => {
      const name = column.trim() || "(no name)";
      let cell;
      if (column && !columns.knows(column)) {
        const select = el("select", { "aria-label": `Read column ${name} as`, dataset: { column } },
          CHOICES.map(([value, text]) => el("option", { value, text })));
        select.value = this.choices[column] || DEFAULT_CHOICE;
        select.addEventListener("change", () => {
          this.choices[column] = select.value;
          this.readColumns();
          this.mapping.querySelector(`select[data-column="${CSS.escape(column)}"]`)?.focus();
        });
        let why = null;
        if (as === "repeat") why = `not read: ${field} is read from ${from}`;
        else if (select.value === ATTRIBUTE && as !== "attribute") why = "cannot be an attribute (see the warnings below)";
        cell = [select, why ? el("span", { class: "hint", text: ` ${why}` }) : null];
      } else if (as === "field") {
        cell = [FIELD_LABELS[field]];
      } else if (as === "part") {
        cell = ["Name (joined with the other name column)"];
      } else {
        cell = [el("span", { class: "muted", text: `not read: ${FIELD_LABELS[field] || field} is read from ${from}` })];
      }
      return el("tr", { dataset: { column, as } }, el("th", { scope: "row", text: name }), el("td", {}, cell));
    }));
    this.mapping.hidden = !plan.read.length;
  }

  setState(state) {
    this.status.dataset.state = state;
    const running = state === "running";
    const pending = this.entries.some((e) => e.state === "pending");
    const failed = this.entries.filter(canRetry).length;
    this.buttons.start.disabled = running || !pending;
    this.buttons.cancel.hidden = !running;
    this.buttons["retry-all"].hidden = running || !failed;
    this.buttons["retry-all"].textContent = `Retry ${plural(failed, "failed row")}`;
    this.buttons.csv.disabled = running || !this.entries.length;
    this.buttons.jsonl.disabled = running || !this.entries.length;
    byId("batch-file").disabled = running;
    for (const button of this.tbody.querySelectorAll("button.retry")) button.disabled = running;
    // Once leads were sent, their columns stay as they were read: choose the file again to
    // read it otherwise.
    for (const select of this.mapping.querySelectorAll("select")) select.disabled = running || this.started;
  }

  // Qualify `targets` (entries), a chunk per request; each row ends with a result or an error.
  async run(targets) {
    if (this.controller || !targets.length) return;
    const controller = new AbortController();
    this.controller = controller;
    this.started = true;
    const started = performance.now();
    for (const entry of targets) Object.assign(entry, { state: "pending", result: null, error: null });
    this.setState("running");
    this.changed();
    try {
      for (const chunk of chunks(targets)) {
        if (controller.signal.aborted) break;
        await this.runChunk(chunk, controller.signal);
      }
    } finally {
      this.controller = null;
      for (const entry of targets) if (entry.state === "running") entry.state = "pending";
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      this.setState(controller.signal.aborted ? "stopped" : "done");
      this.elapsed = controller.signal.aborted ? "stopped" : `${seconds} s`;
      this.renderNow();
    }
  }

  async runChunk(chunk, signal) {
    for (const entry of chunk) entry.state = "running";
    try {
      for await (const event of postEvents("api/leads/qualify-as-completed", chunk.map((e) => e.lead), signal)) {
        if (event.type !== "item") continue;
        const entry = chunk[event.index];
        if (event.result) Object.assign(entry, { state: "ok", result: event.result, error: null });
        else Object.assign(entry, { state: "error", result: null, error: event.error });
        this.changed();
      }
    } catch (exc) {
      if (exc.name === "AbortError") return;
      const error = exc instanceof ApiError ? exc.asLeadError() : { error: "client_error", message: String(exc), retryable: true };
      for (const entry of chunk) if (entry.state === "running") Object.assign(entry, { state: "error", error });
      if (!(exc instanceof ApiError)) throw exc;
    }
    const cut = { error: "stream_cut", message: "the connection ended before this row finished", retryable: true };
    for (const entry of chunk) if (entry.state === "running") Object.assign(entry, { state: "error", error: cut });
    this.changed();
  }

  // Render at most once a frame, however fast results arrive.
  changed() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => this.renderNow());
  }

  renderNow() {
    this.renderQueued = false;
    const total = this.entries.length;
    const ok = this.entries.filter((e) => e.state === "ok").length;
    const failed = this.entries.filter((e) => e.state === "error").length;
    const done = ok + failed;
    this.progress.max = Math.max(total, 1);
    this.progress.value = done;
    Object.assign(this.status.dataset, { total, done, ok, failed });
    const tail = this.status.dataset.state === "running" ? `${total - done} to go` : this.elapsed || "";
    this.counts.textContent = total
      ? `${done} of ${plural(total, "row")} done · ${ok} succeeded · ${failed} failed${tail ? ` · ${tail}` : ""}`
      : "Choose a file to begin.";
    this.renderRows();
    this.setState(this.status.dataset.state);
  }

  visible() {
    const needle = this.filter.value.trim().toLowerCase();
    const show = this.show.value;
    const column = COLUMNS.find((c) => c.key === this.sort.key);
    return this.entries
      .filter((e) => {
        if (show.startsWith("action:")) return e.result?.recommended_action === show.slice(7);
        if (show === "pending") return e.state === "pending" || e.state === "running";
        return show === "all" || e.state === show;
      })
      .filter((e) => !needle || [e.lead?.lead_name, e.lead?.company_name, e.lead?.lead_id, e.error?.message,
        ACTIONS[e.result?.recommended_action]].some((v) => text(v).toLowerCase().includes(needle)))
      .sort((a, b) => {
        const [x, y] = [column.value(a), column.value(b)];
        return (x < y ? -1 : x > y ? 1 : a.row - b.row) * this.sort.dir;
      });
  }

  renderHead() {
    const row = byId("batch-table").querySelector("thead tr");
    row.replaceChildren(...COLUMNS.map((column) => {
      const active = this.sort.key === column.key;
      const sort = active ? (this.sort.dir > 0 ? "ascending" : "descending") : "none";
      return el("th", { scope: "col", "aria-sort": sort },
        el("button", { type: "button", class: "sort", dataset: { sort: column.key }, onclick: () => this.sortBy(column.key) },
          column.label, el("span", { class: "sort-mark", "aria-hidden": "true", text: active ? (this.sort.dir > 0 ? " ▲" : " ▼") : "" })));
    }), el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Retry" })));
  }

  sortBy(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : key === "score" || key === "confidence" ? -1 : 1 };
    this.renderHead();
    this.renderNow();
    byId("batch-table").querySelector(`button[data-sort="${key}"]`).focus();
  }

  renderRows() {
    const rows = this.visible();
    const more = byId("batch-more");
    more.hidden = rows.length <= SHOWN_ROWS;
    more.textContent = `Showing the first ${SHOWN_ROWS} of ${rows.length} rows; filter to narrow them, or download all.`;
    this.tbody.replaceChildren(...rows.slice(0, SHOWN_ROWS).map((entry) => this.row(entry)));
  }

  row(entry) {
    const lead = entry.lead && typeof entry.lead === "object" ? entry.lead : {};
    const result = entry.result;
    const name = text(lead.lead_name) || "(no name)";
    const nameCell = result?.lead_ref ? el("a", { href: `#/leads/${result.lead_ref}`, text: name }) : name;
    let outcome;
    if (entry.state === "ok") outcome = el("span", { class: "ok", text: "Qualified" });
    else if (entry.state === "error") outcome = el("span", { class: "problem" }, el("strong", { text: entry.error.error }), `: ${entry.error.message}`);
    else outcome = el("span", { class: "muted", text: entry.state === "running" ? "Qualifying…" : "Waiting" });
    const retry = entry.state === "error" && canRetry(entry)
      ? el("button", { type: "button", class: "retry", "aria-label": `Retry row ${entry.row}`, text: "Retry", onclick: () => this.run([entry]) })
      : null;
    return el("tr", { dataset: { row: entry.row, status: entry.state } },
      el("td", { class: "num", text: entry.row }),
      el("td", {}, nameCell),
      el("td", { text: text(lead.company_name) }),
      el("td", {}, result ? miniBar(result.overall_score) : ""),
      el("td", {}, result ? actionBadge(result.recommended_action) : ""),
      el("td", { class: "num", text: result ? pct(result.confidence) : "" }),
      el("td", { class: "outcome" }, outcome),
      el("td", {}, retry));
  }
}

// A failed row worth sending again: it has a lead (an unreadable line has none) and failed
// for a reason a retry can fix (a provider outage, a timeout, a rate limit), not for its input.
function canRetry(entry) {
  return entry.state === "error" && entry.lead !== null && entry.error?.retryable === true;
}

// Split entries into requests of at most CHUNK_ROWS rows and about CHUNK_BYTES of JSON.
function* chunks(entries) {
  let chunk = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = JSON.stringify(entry.lead).length + 1;
    if (chunk.length && (chunk.length >= CHUNK_ROWS || size + bytes > CHUNK_BYTES)) {
      yield chunk;
      chunk = [];
      size = 0;
    }
    chunk.push(entry);
    size += bytes;
  }
  if (chunk.length) yield chunk;
}
