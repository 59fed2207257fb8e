// The History view (GET api/leads: stored leads with their latest score and action) and a
// lead's page (GET api/leads/{id}: its score over time and every past qualification).

import { ApiError, getJSON } from "./api.js";
import { ResultCard } from "./card.js";
import { ACTIONS, actionBadge, el, miniBar, plural, when } from "./dom.js";
import { scoreChart } from "./chart.js";
import { FORM_FIELDS } from "./fields.js";

const byId = (id) => document.getElementById(id);
const PAGE = 50;

function problem(exc) {
  if (exc instanceof ApiError && exc.status === 401) return "This server needs an API key. Reload the page to enter one.";
  if (exc instanceof ApiError) return exc.message;
  throw exc;
}

export class HistoryView {
  constructor() {
    this.q = byId("history-q");
    this.action = byId("history-action");
    this.sort = byId("history-sort");
    this.count = byId("history-count");
    this.tbody = byId("history-table").querySelector("tbody");
    this.more = byId("history-more");
    this.seq = 0;
    this.action.replaceChildren(el("option", { value: "", text: "Any" }),
      ...Object.entries(ACTIONS).map(([value, text]) => el("option", { value, text })));
    let timer = null;
    this.q.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.load(true), 250);
    });
    this.action.addEventListener("change", () => this.load(true));
    this.sort.addEventListener("change", () => this.load(true));
    byId("history-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.load(true);
    });
    this.more.addEventListener("click", () => this.load(false));
  }

  show() {
    return this.load(true);
  }

  async load(fresh) {
    const seq = ++this.seq;
    const offset = fresh ? 0 : this.tbody.rows.length;
    const params = new URLSearchParams({ sort: this.sort.value, limit: PAGE, offset });
    if (this.q.value.trim()) params.set("q", this.q.value.trim());
    if (this.action.value) params.set("action", this.action.value);
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
    return el("tr", { dataset: { lead: lead.id } },
      el("td", {}, el("a", { href: `#/leads/${lead.id}`, text: lead.lead_name || "(no name)" }),
        lead.lead_id ? el("span", { class: "muted", text: ` ${lead.lead_id}` }) : null),
      el("td", { text: lead.company_name || "" }),
      el("td", {}, miniBar(lead.latest_score)),
      el("td", {}, actionBadge(lead.latest_action)),
      el("td", { class: "num", text: lead.qualification_count }),
      el("td", { text: when(lead.updated_at) }));
  }
}

export class LeadView {
  constructor({ onQualifyAgain }) {
    this.onQualifyAgain = onQualifyAgain;
    this.title = byId("lead-title");
    this.meta = byId("lead-meta");
    this.chart = byId("lead-chart");
    this.runs = byId("lead-runs");
  }

  async show(id) {
    this.title.textContent = "Lead";
    this.meta.replaceChildren("Loading…");
    this.chart.replaceChildren();
    this.runs.replaceChildren();
    let lead;
    try {
      lead = (await getJSON(`api/leads/${encodeURIComponent(id)}`)).data;
    } catch (exc) {
      this.meta.replaceChildren(exc instanceof ApiError && exc.status === 404 ? `No stored lead with id ${id}.` : problem(exc));
      return;
    }
    this.title.textContent = lead.lead_name || "(no name)";
    const facts = [lead.company_name, lead.email, lead.lead_id && `your id ${lead.lead_id}`,
      plural(lead.qualification_count, "qualification"), `first seen ${when(lead.created_at)}`].filter(Boolean);
    const latest = lead.qualifications[lead.qualifications.length - 1];
    const again = latest?.input
      ? el("button", { type: "button", onclick: () => this.onQualifyAgain(latest.input), text: "Qualify again" })
      : null;
    this.meta.replaceChildren(facts.join(" · "), " ", again);
    this.chart.replaceChildren(scoreChart(lead.history));
    this.runs.replaceChildren(...[...lead.qualifications].reverse().map((q, i) => this.run(q, i === 0)));
  }

  run(q, open) {
    const host = el("div");
    new ResultCard(host, { linkHistory: false }).update(q, "final");
    const input = el("dl", { class: "input" }, FORM_FIELDS.filter((f) => q.input?.[f.name]).map((f) =>
      [el("dt", { text: f.label }), el("dd", { text: q.input[f.name] })]));
    return el("details", { class: "run", open, dataset: { qualification: q.qualification_id } },
      el("summary", {}, el("span", { text: when(q.created_at) }), miniBar(q.overall_score),
        actionBadge(q.recommended_action), el("span", { class: "muted", text: `${q.provider} · ${q.model}` })),
      host,
      el("details", { class: "input-box" }, el("summary", { text: "The input it was computed from" }), input));
  }
}
