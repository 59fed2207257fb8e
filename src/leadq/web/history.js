// The History view (GET api/leads: stored leads with their CRM id, latest score, action and
// outcome; the CSV export; erasure) and a lead's page (GET api/leads/{id}: its outcome, its
// score over time and every past qualification).

import { ApiError, deleteJSON, getBlob, getJSON, postJSON } from "./api.js";
import { ResultCard } from "./card.js";
import {
  ACTIONS, OUTCOMES, actionBadge, confirmAction, day, download, el, miniBar, plural, today, when,
} from "./dom.js";
import { scoreChart } from "./chart.js";
import { FORM_FIELDS } from "./fields.js";

const byId = (id) => document.getElementById(id);
const PAGE = 50;
const ERASES = "This erases the lead and everything stored about it: every qualification, its outcomes "
  + "and cached results. It cannot be undone.";

function problem(exc) {
  if (exc instanceof ApiError && exc.status === 401) return "This server needs an API key. Reload the page to enter one.";
  if (exc instanceof ApiError) return exc.message;
  throw exc;
}

function outcomeText(latest) {
  return latest ? `${OUTCOMES[latest.outcome] || latest.outcome} · ${day(latest.date)}` : "";
}

// Ask, then erase a stored lead (DELETE api/leads/{id}); true once it is gone.
async function eraseLead(lead, status) {
  const name = lead.lead_name || "this lead";
  const sure = await confirmAction({ title: `Delete ${name}?`, message: ERASES, confirm: "Delete" });
  if (!sure) return false;
  try {
    await deleteJSON(`api/leads/${lead.id}`);
    status.textContent = `Deleted ${name}.`;
    return true;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) {
      status.textContent = `${name} was already deleted.`;
      return true;
    }
    status.textContent = `Could not delete ${name}: ${problem(exc)}`;
    return false;
  }
}

export class HistoryView {
  constructor() {
    this.q = byId("history-q");
    this.action = byId("history-action");
    this.outcome = byId("history-outcome");
    this.sort = byId("history-sort");
    this.count = byId("history-count");
    this.status = byId("history-status");
    this.tbody = byId("history-table").querySelector("tbody");
    this.more = byId("history-more");
    this.exportButton = byId("history-export");
    this.seq = 0;
    this.action.replaceChildren(el("option", { value: "", text: "Any" }),
      ...Object.entries(ACTIONS).map(([value, text]) => el("option", { value, text })));
    this.outcome.replaceChildren(el("option", { value: "", text: "Any" }),
      ...Object.entries(OUTCOMES).map(([value, text]) => el("option", { value, text })),
      el("option", { value: "none", text: "None recorded yet" }));
    let timer = null;
    this.q.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.load(true), 250);
    });
    for (const select of [this.action, this.outcome, this.sort]) select.addEventListener("change", () => this.load(true));
    byId("history-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.load(true);
    });
    this.more.addEventListener("click", () => this.load(false));
    this.exportButton.addEventListener("click", () => this.exportCSV());
  }

  show() {
    this.status.textContent = "";
    return this.load(true);
  }

  async load(fresh) {
    const seq = ++this.seq;
    const offset = fresh ? 0 : this.tbody.rows.length;
    const params = new URLSearchParams({ sort: this.sort.value, limit: PAGE, offset });
    if (this.q.value.trim()) params.set("q", this.q.value.trim());
    if (this.action.value) params.set("action", this.action.value);
    if (this.outcome.value) params.set("outcome", this.outcome.value);
    this.count.textContent = "Loading…";
    try {
      const page = await getJSON(`api/leads?${params}`);
      if (seq !== this.seq) return; // a newer search is on its way
      const rows = page.data.map((lead) => this.row(lead));
      if (fresh) this.tbody.replaceChildren(...rows);
      else this.tbody.append(...rows);
      this.count.textContent = page.total
        ? `${plural(page.total, "stored lead")}${page.total > this.tbody.rows.length ? `, showing ${this.tbody.rows.length}` : ""}`
        : "No stored leads match. Qualify a lead or a file and it shows up here.";
      this.more.hidden = this.tbody.rows.length >= page.total;
    } catch (exc) {
      if (seq === this.seq) this.count.textContent = problem(exc);
    }
  }

  row(lead) {
    const name = lead.lead_name || "(no name)";
    const erase = el("button", {
      type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${name}`,
      onclick: async () => {
        if (await eraseLead(lead, this.status)) this.load(true);
      },
    });
    return el("tr", { dataset: { lead: lead.id } },
      el("td", {}, el("a", { href: `#/leads/${lead.id}`, text: name })),
      el("td", { class: "crm-id", text: lead.lead_id || "" }),
      el("td", { text: lead.company_name || "" }),
      el("td", { class: "score" }, miniBar(lead.latest_score)),
      el("td", {}, actionBadge(lead.latest_action)),
      el("td", { class: "outcome-cell", dataset: { outcome: lead.latest_outcome?.outcome || "" }, text: outcomeText(lead.latest_outcome) }),
      el("td", { class: "num runs", text: lead.qualification_count ?? 0 }),
      el("td", { text: when(lead.updated_at) }),
      el("td", {}, erase));
  }

  async exportCSV() {
    this.exportButton.disabled = true;
    this.status.textContent = "Exporting…";
    try {
      const blob = await getBlob("api/leads/export.csv");
      download(`leads-${today()}.csv`, blob, "text/csv");
      this.status.textContent = "Exported every stored lead's latest result as CSV.";
    } catch (exc) {
      this.status.textContent = `The export failed: ${problem(exc)}`;
    } finally {
      this.exportButton.disabled = false;
    }
  }
}

export class LeadView {
  constructor({ onQualifyAgain }) {
    this.onQualifyAgain = onQualifyAgain;
    this.lead = null;
    this.title = byId("lead-title");
    this.meta = byId("lead-meta");
    this.chartBox = byId("lead-chart-box");
    this.chart = byId("lead-chart");
    this.runs = byId("lead-runs");
    this.outcomeBox = byId("lead-outcome");
    this.outcomeNow = byId("lead-outcome-now");
    this.outcomeDate = byId("lead-outcome-date");
    this.outcomeStatus = byId("lead-outcome-status");
    this.outcomeList = byId("lead-outcome-list");
    this.deleteButton = byId("lead-delete");
    this.outcomeButtons = Object.entries(OUTCOMES).map(([outcome, label]) => el("button", {
      type: "button", dataset: { outcome }, text: label, "aria-pressed": "false", onclick: () => this.record(outcome),
    }));
    byId("lead-outcome-buttons").replaceChildren(...this.outcomeButtons);
    this.deleteButton.addEventListener("click", async () => {
      if (this.lead && await eraseLead(this.lead, this.outcomeStatus)) location.hash = "#/history";
    });
  }

  async show(id) {
    this.lead = null;
    this.title.textContent = "Lead";
    this.meta.replaceChildren("Loading…");
    this.chart.replaceChildren();
    this.runs.replaceChildren();
    this.outcomeBox.hidden = true;
    this.deleteButton.hidden = true;
    this.outcomeStatus.textContent = "";
    let lead;
    try {
      lead = (await getJSON(`api/leads/${encodeURIComponent(id)}`)).data;
    } catch (exc) {
      this.meta.replaceChildren(exc instanceof ApiError && exc.status === 404 ? `No stored lead with id ${id}.` : problem(exc));
      return;
    }
    this.lead = lead;
    this.title.textContent = lead.lead_name || "(no name)";
    const count = lead.qualification_count ?? 0;
    const facts = [lead.company_name, lead.email, lead.lead_id && `CRM id ${lead.lead_id}`,
      count ? plural(count, "qualification") : "no stored result", lead.created_at && `first seen ${when(lead.created_at)}`];
    const quals = lead.qualifications || [];
    const latest = quals[quals.length - 1];
    // A lead whose results were purged keeps who it is: qualify it again from that.
    const input = latest?.input || Object.fromEntries(["lead_id", "lead_name", "email", "company_name"]
      .filter((k) => lead[k]).map((k) => [k, lead[k]]));
    const again = el("button", { type: "button", onclick: () => this.onQualifyAgain(input), text: "Qualify again" });
    this.meta.replaceChildren(facts.filter(Boolean).join(" · "), " ", again);
    this.showOutcomes(lead.outcomes || []);
    this.outcomeDate.value = today();
    this.outcomeDate.max = today();
    this.outcomeBox.hidden = false;
    this.deleteButton.hidden = false;
    if (quals.length) {
      this.chart.replaceChildren(scoreChart(lead.history || []));
      this.runs.replaceChildren(...[...quals].reverse().map((q, i) => this.run(q, i === 0)));
    } else {
      this.chart.replaceChildren(el("p", { class: "muted no-result", text: "No stored result to chart." }));
      this.runs.replaceChildren(el("p", { class: "no-result", text:
        "No stored result: this lead's qualifications were removed after the retention period. "
        + "What is kept is who the lead is and its outcomes. Qualify it again to score it." }));
    }
  }

  // `outcomes`: the latest first, as the API gives them.
  showOutcomes(outcomes) {
    const [latest, ...earlier] = outcomes;
    this.outcomeNow.textContent = latest ? `${outcomeText(latest)}` : "No outcome recorded yet.";
    this.outcomeNow.dataset.outcome = latest?.outcome || "";
    for (const button of this.outcomeButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.outcome === latest?.outcome));
    }
    this.outcomeList.replaceChildren(...earlier.map((o) => el("li", { text: `Before: ${outcomeText(o)}` })));
  }

  async record(outcome) {
    const lead = this.lead;
    if (!lead) return;
    const body = { outcome };
    if (this.outcomeDate.value) body.date = this.outcomeDate.value;
    for (const button of this.outcomeButtons) button.disabled = true;
    this.outcomeStatus.textContent = "Recording…";
    try {
      const saved = (await postJSON(`api/leads/${lead.id}/outcome`, body)).data;
      if (this.lead !== lead) return; // another lead's page is showing now
      lead.outcomes = [saved, ...(lead.outcomes || [])];
      this.showOutcomes(lead.outcomes);
      this.outcomeStatus.textContent = `Recorded: ${outcomeText(saved)}.`;
    } catch (exc) {
      const fields = exc instanceof ApiError ? exc.fields.map((f) => f.message).join("; ") : "";
      this.outcomeStatus.textContent = `Not recorded: ${fields || problem(exc)}`;
    } finally {
      for (const button of this.outcomeButtons) button.disabled = false;
    }
  }

  run(q, open) {
    const host = el("div");
    new ResultCard(host, { linkHistory: false, explain: open }).update(q, "final");
    const input = el("dl", { class: "input" }, FORM_FIELDS.filter((f) => q.input?.[f.name]).map((f) =>
      [el("dt", { text: f.label }), el("dd", { text: q.input[f.name] })]));
    return el("details", { class: "run", open, dataset: { qualification: q.qualification_id } },
      el("summary", {}, el("span", { text: when(q.created_at) }), miniBar(q.overall_score),
        actionBadge(q.recommended_action), el("span", { class: "muted", text: `${q.provider} · ${q.model}` })),
      host,
      el("details", { class: "input-box" }, el("summary", { text: "The input it was computed from" }), input));
  }
}
