// The Batch view's jobs, as the server runs them (api/jobs): the recent ones in a list, and
// the one opened: its progress (GET api/jobs/{id}, polled), its rows' results as they finish
// (GET api/jobs/{id}/results, only the rows after those already here, a page at a time), in a
// sortable, filterable table; cancel, retry of the failed rows, and downloads in the CLI's
// formats. The job runs on the server: closing the page stops nothing, and the page opens
// the last job it showed when it comes back.

import { ApiError, getBlob, getJSON, getText, postJSON } from "./api.js";
import { ACTIONS, actionBadge, download, el, miniBar, pct, plural, when } from "./dom.js";
import { parseCSV } from "./leadfile.js";

const byId = (id) => document.getElementById(id);
export const POLL_MS = 1000;
const LISTED_JOBS = 10;
const PAGE_ROWS = 1000; // rows a results request asks for
const MAX_LOADED = 100_000; // rows the table holds; the downloads have them all
const SHOWN_ROWS = 500;
const LAST_JOB = "leadq.batch.job"; // the job this browser last opened, opened again on return

const STATUS = {
  queued: "Queued",
  running: "Running",
  done: "Done",
  cancelled: "Cancelled",
  incomplete: "Not finished (a leadq qualify run)",
};

const text = (value) => (typeof value === "string" ? value : "");
const COLUMNS = [
  { key: "row", label: "Row", value: (e) => e.row },
  { key: "name", label: "Lead", value: (e) => e.name.toLowerCase() },
  { key: "company", label: "Company", value: (e) => e.company.toLowerCase() },
  { key: "score", label: "Score", value: (e) => e.score ?? -1 },
  { key: "action", label: "Action", value: (e) => ACTIONS[e.action] || "" },
  { key: "confidence", label: "Confidence", value: (e) => e.confidence ?? -1 },
  { key: "status", label: "Result", value: (e) => `${e.state} ${e.error?.message || ""}` },
];

// A job not worth polling: finished (until retry-failed starts it again), cancelled with no
// chunk still stopping, or a `leadq qualify` run (its command may have stopped long ago:
// opening the view again shows how far it got).
export function settled(job) {
  return ["done", "incomplete"].includes(job.status) || (job.status === "cancelled" && !job.chunks?.running);
}

export function lastJob() {
  return localStorage.getItem(LAST_JOB);
}

function duration(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function rate(perSecond) {
  return `${perSecond >= 10 ? Math.round(perSecond).toLocaleString() : perSecond.toFixed(1)} rows/s`;
}

// A page of the results CSV (`leadq qualify -o out.csv`'s columns) as table entries.
function entriesFrom(csvText) {
  const [header, ...rows] = parseCSV(csvText);
  if (!header) return [];
  const at = Object.fromEntries(header.map((name, i) => [name, i]));
  const number = (value) => (value === "" || value === undefined ? null : Number(value));
  return rows.map((cells) => {
    const cell = (name) => cells[at[name]] ?? "";
    const state = cell("status");
    return {
      row: Number(cell("row")),
      name: cell("lead_name"),
      company: cell("company_name"),
      leadId: cell("lead_id"),
      leadRef: cell("lead_ref"),
      state,
      score: number(cell("overall_score")),
      action: cell("recommended_action") || null,
      confidence: number(cell("confidence")),
      error: state === "error"
        ? { error: cell("error"), message: cell("error_message"), retryable: cell("retryable") === "True" }
        : null,
    };
  });
}

// A failed row that retry-failed qualifies again: a provider outage, a timeout, a rate
// limit; not invalid input.
const canRetry = (entry) => entry.state === "error" && entry.error.retryable;

// The recent jobs, newest first; each name opens its job (#/batch/<id>).
export class JobList {
  constructor() {
    this.box = byId("batch-jobs-box");
    this.tbody = byId("batch-jobs").querySelector("tbody");
    this.jobs = [];
    this.current = null;
  }

  async refresh() {
    this.jobs = (await getJSON(`api/jobs?limit=${LISTED_JOBS}`)).data;
    this.render();
  }

  // A job's newer state, from its own poll.
  update(job) {
    const i = this.jobs.findIndex((j) => j.id === job.id);
    if (i >= 0) this.jobs[i] = job;
    else this.jobs.unshift(job);
    this.render();
  }

  render() {
    this.box.hidden = !this.jobs.length;
    this.tbody.replaceChildren(...this.jobs.map((job) => {
      const current = job.id === this.current;
      return el("tr", { class: current ? "selected" : null, dataset: { job: job.id, status: job.status } },
        el("td", {}, el("a", { href: `#/batch/${job.id}`, "aria-current": current ? "true" : null, text: job.source })),
        el("td", { text: STATUS[job.status] || job.status }),
        el("td", { class: "num", text: `${job.done.toLocaleString()} of ${job.total.toLocaleString()}` }),
        el("td", { class: "num", text: job.succeeded.toLocaleString() }),
        el("td", { class: "num", text: job.failed.toLocaleString() }),
        el("td", { text: when(job.created_at) }));
    }));
  }

  busy() {
    return this.jobs.some((job) => !settled(job));
  }
}

// The opened job. `onChange(job)`: its newer state; `onAct()`: it was cancelled or retried.
export class JobPanel {
  constructor({ onChange, onAct }) {
    this.onChange = onChange;
    this.onAct = onAct;
    this.id = null;
    this.job = null;
    this.gone = false; // the server has no such job
    this.refused = false; // no API key was given: polling waits for the view to be shown again
    this.entries = new Map(); // row -> entry
    this.prefix = 0; // every row up to this one is here
    this.generation = 0; // bumped when another job opens: answers for the old one are dropped
    this.sort = { key: "row", dir: 1 };
    this.box = byId("batch-job");
    this.title = byId("batch-job-title");
    this.meta = byId("batch-job-meta");
    this.status = byId("batch-status");
    this.counts = byId("batch-counts");
    this.progress = byId("batch-progress");
    this.problem = byId("batch-job-problem");
    this.warnings = byId("batch-job-warnings");
    this.tbody = byId("batch-table").querySelector("tbody");
    this.filter = byId("batch-filter");
    this.show = byId("batch-show");
    this.buttons = Object.fromEntries(
      ["cancel", "retry-all", "csv", "jsonl"].map((name) => [name, byId(`batch-${name}`)]));
    const shows = [["all", "All rows"], ["ok", "Succeeded"], ["error", "Failed"], ["cancelled", "Not run"],
      ...Object.entries(ACTIONS).map(([action, label]) => [`action:${action}`, label])];
    this.show.replaceChildren(...shows.map(([value, label]) => el("option", { value, text: label })));
    this.renderHead();
    this.buttons.cancel.addEventListener("click", () => this.act("cancel"));
    this.buttons["retry-all"].addEventListener("click", () => this.act("retry-failed"));
    this.buttons.csv.addEventListener("click", () => this.download("csv"));
    this.buttons.jsonl.addEventListener("click", () => this.download("jsonl"));
    this.filter.addEventListener("input", () => this.renderRows());
    this.show.addEventListener("change", () => this.renderRows());
  }

  open(id) {
    if (id === this.id) return;
    this.generation += 1;
    Object.assign(this, { id, job: null, gone: false, entries: new Map(), prefix: 0 });
    localStorage.setItem(LAST_JOB, id);
    this.box.hidden = false;
    this.title.textContent = "Job";
    this.meta.textContent = "";
    this.problem.textContent = "";
    this.warnings.replaceChildren();
    this.status.dataset.state = "loading";
    this.counts.textContent = "Loading the job…";
    this.progress.value = 0;
    this.setButtons();
    this.renderRows();
  }

  busy() {
    return this.id !== null && !this.gone && !this.refused && (this.job === null || !settled(this.job));
  }

  // One look at the job: its progress, then the rows finished since the last look.
  async refresh() {
    if (this.id === null) return;
    const generation = this.generation;
    this.refused = false;
    let job;
    try {
      job = (await getJSON(`api/jobs/${this.id}`)).data;
      if (generation !== this.generation) return;
      await this.load(job, generation);
    } catch (exc) {
      if (generation !== this.generation || !(exc instanceof ApiError)) throw exc;
      if (exc.status === 404) {
        localStorage.removeItem(LAST_JOB);
        this.gone = true;
        this.status.dataset.state = "gone";
        this.counts.textContent = `This server has no job ${this.id}.`;
        return;
      }
      this.refused = exc.status === 401;
      this.problem.textContent = this.refused ? exc.message : `${exc.message}; trying again.`;
      return;
    }
    if (generation !== this.generation) return;
    this.problem.textContent = "";
    this.job = job;
    this.render();
    this.onChange(job);
  }

  // Read the rows finished since the last look: those after the first row not yet here, a
  // page at a time (rows finish out of order, so a few past it may come again). A cancelled
  // job's rows not run come as `cancelled`, once no chunk of it is still stopping (one that
  // is may yet finish some).
  async load(job, generation) {
    if (job.status === "cancelled" && !settled(job)) return;
    const finished = job.status === "cancelled" ? job.total : job.done;
    if (finished < this.entries.size) { // rows were put back to be qualified again
      this.entries.clear();
      this.prefix = 0;
    }
    let after = this.prefix;
    while (this.entries.size < Math.min(finished, MAX_LOADED)) {
      const page = entriesFrom(await getText(
        `api/jobs/${this.id}/results?format=csv&after=${after}&limit=${PAGE_ROWS}`));
      if (generation !== this.generation) return;
      for (const entry of page) this.entries.set(entry.row, entry);
      while (this.entries.has(this.prefix + 1)) this.prefix += 1;
      if (page.length < PAGE_ROWS) break;
      after = page[page.length - 1].row;
    }
  }

  async act(what) {
    const id = this.id;
    this.problem.textContent = "";
    try {
      const answer = await postJSON(`api/jobs/${id}/${what}`);
      if (id !== this.id) return;
      if (what === "retry-failed") {
        this.entries.clear();
        this.prefix = 0;
      }
      this.job = answer.data;
      this.render();
      this.onChange(answer.data);
      this.onAct();
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      this.problem.textContent = exc.message;
    }
  }

  // The results as the server writes them (`leadq qualify`'s formats); CSV with the
  // byte-order mark without which Excel reads the file in the machine's code page.
  async download(format) {
    this.problem.textContent = "";
    try {
      const blob = await getBlob(`api/jobs/${this.id}/results?format=${format}`);
      const name = `${text(this.job?.source).replace(/\.[^.]+$/, "") || `job-${this.id}`}.results.${format}`;
      if (format === "csv") download(name, new Blob(["\ufeff", blob], { type: "text/csv" }));
      else download(name, blob);
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      this.problem.textContent = exc.message;
    }
  }

  retryable() {
    let n = 0;
    for (const entry of this.entries.values()) if (canRetry(entry)) n += 1;
    return n;
  }

  setButtons() {
    const job = this.job;
    const ours = job?.kind === "api"; // a `leadq qualify` run is stopped and retried by its command
    const failed = job?.status === "done" ? this.retryable() : 0;
    this.buttons.cancel.hidden = !ours || !["queued", "running"].includes(job.status);
    this.buttons["retry-all"].hidden = !ours || !failed;
    this.buttons["retry-all"].textContent = `Retry ${plural(failed, "failed row")}`;
    const some = Boolean(job?.done) || job?.status === "cancelled";
    this.buttons.csv.disabled = !some;
    this.buttons.jsonl.disabled = !some;
  }

  render() {
    const job = this.job;
    this.title.textContent = job.source;
    this.meta.textContent = `${STATUS[job.status] || job.status} · submitted ${when(job.created_at)}`;
    this.progress.max = Math.max(job.total, 1);
    this.progress.value = job.done;
    Object.assign(this.status.dataset, {
      state: job.status, job: job.id, total: job.total, done: job.done, ok: job.succeeded, failed: job.failed,
    });
    const parts = [`${job.done.toLocaleString()} of ${plural(job.total, "row")} done`,
      `${job.succeeded.toLocaleString()} succeeded`, `${job.failed.toLocaleString()} failed`];
    if (job.status === "queued") parts.unshift("Waiting to start");
    if (job.status === "running" && job.rate) {
      parts.push(rate(job.rate));
      if (job.eta_seconds !== null) parts.push(`about ${duration(job.eta_seconds)} left`);
    }
    if (job.status === "done" && job.started_at && job.finished_at) {
      parts.push(`took ${duration((Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000)}`);
    }
    if (job.status === "cancelled") parts.push(`cancelled: ${plural(job.pending, "row")} not run`);
    this.counts.textContent = parts.join(" · ");
    this.warnings.replaceChildren(...job.warnings.map((warning) => el("li", { text: warning })));
    this.setButtons();
    this.renderRows();
  }

  visible() {
    const needle = this.filter.value.trim().toLowerCase();
    const show = this.show.value;
    const column = COLUMNS.find((c) => c.key === this.sort.key);
    return [...this.entries.values()]
      .filter((e) => (show.startsWith("action:") ? e.action === show.slice(7) : show === "all" || e.state === show))
      .filter((e) => !needle || [e.name, e.company, e.leadId, e.error?.message, ACTIONS[e.action]]
        .some((v) => text(v).toLowerCase().includes(needle)))
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
    }));
  }

  sortBy(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : key === "score" || key === "confidence" ? -1 : 1 };
    this.renderHead();
    this.renderRows();
    byId("batch-table").querySelector(`button[data-sort="${key}"]`).focus();
  }

  renderRows() {
    const rows = this.visible();
    const more = byId("batch-more");
    const held = this.job && this.entries.size >= MAX_LOADED && this.job.done > this.entries.size;
    more.hidden = rows.length <= SHOWN_ROWS && !held;
    more.textContent = [
      rows.length > SHOWN_ROWS ? `Showing the first ${SHOWN_ROWS} of ${rows.length.toLocaleString()} rows; filter to narrow them.` : "",
      held ? `The table holds the first ${MAX_LOADED.toLocaleString()} rows finished; the downloads have them all.` : "",
    ].filter(Boolean).join(" ");
    this.tbody.replaceChildren(...rows.slice(0, SHOWN_ROWS).map((entry) => this.row(entry)));
  }

  row(entry) {
    const name = entry.name || "(no name)";
    const nameCell = entry.leadRef ? el("a", { href: `#/leads/${entry.leadRef}`, text: name }) : name;
    let outcome;
    if (entry.state === "ok") outcome = el("span", { class: "ok", text: "Qualified" });
    else if (entry.state === "error") {
      outcome = el("span", { class: "problem" }, el("strong", { text: entry.error.error }), `: ${entry.error.message}`,
        canRetry(entry) ? el("span", { class: "muted", text: " (Retry failed qualifies it again)" }) : null);
    } else outcome = el("span", { class: "muted", text: "Not run: the job was cancelled" });
    return el("tr", { dataset: { row: entry.row, status: entry.state } },
      el("td", { class: "num", text: entry.row }),
      el("td", {}, nameCell),
      el("td", { text: entry.company }),
      el("td", {}, entry.score === null ? "" : miniBar(entry.score)),
      el("td", {}, entry.action ? actionBadge(entry.action) : ""),
      el("td", { class: "num", text: entry.confidence === null ? "" : pct(entry.confidence) }),
      el("td", { class: "outcome" }, outcome));
  }
}
