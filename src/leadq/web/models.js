// The Model view (#/models): the conversion models as versions (GET api/models), one's report
// with its calibration and lift charts and its drift (GET api/models/{id}), activate,
// deactivate and roll back (POST api/models/{id}/activate, api/models/deactivate), and a
// training on a file of past leads (POST api/models/train, then its status polled).

import { ApiError, getJSON, postJSON } from "./api.js";
import { ACTIONS, actionBadge, el, plural, when } from "./dom.js";
import { LeadFileError, readSource } from "./leadfile.js";
import { calibrationChart, liftChart } from "./modelcharts.js";

const byId = (id) => document.getElementById(id);
const POLL_MS = 1000;
const MAX_CHOICES = 20; // label values offered as checkboxes; more: typed in

const DRIFT = {
  current: "Current: its predictions match the outcomes recorded since.",
  out_of_date: "Out of date.",
  not_enough_outcomes: "Not enough outcomes yet to judge its predictions.",
};

const fixed = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "-");
const percent = (v, digits = 0) => (typeof v === "number" ? `${(v * 100).toFixed(digits)}%` : "-");

function problem(exc) {
  if (exc instanceof ApiError && exc.status === 401) return "This server needs an API key. Reload the page to enter one.";
  if (exc instanceof ApiError || exc instanceof LeadFileError) return exc.message;
  throw exc;
}

function figure(term, value, note) {
  return [el("dt", { text: term }), el("dd", {}, value, note ? el("span", { class: "muted", text: ` ${note}` }) : null)];
}

export class ModelView {
  constructor() {
    this.status = byId("models-status");
    this.body = byId("models-body");
    this.models = [];
    this.selected = null;
    this.seq = 0;
    this.active = el("p", { class: "model-active", id: "models-active" });
    this.tbody = el("tbody");
    this.table = el("div", { class: "table-wrap", tabindex: 0, "aria-label": "Model versions" },
      el("table", { class: "results", id: "models-table" },
        el("thead", {}, el("tr", {},
          ["Model", "Trained", "Trained on", "Leads", "AUC (95% interval)", "Brier", "Verdict", "In use", ""]
            .map((text) => el("th", { scope: "col", text })))),
        this.tbody));
    this.empty = el("p", { class: "muted", id: "models-empty", hidden: true,
      text: "No model yet. Train one below on a file of past leads with their outcome." });
    this.report = el("section", { class: "model-report", id: "model-report", "aria-labelledby": "model-report-title", hidden: true });
    this.body.replaceChildren(
      this.active,
      el("h2", { text: "Versions" }), this.empty, this.table,
      this.report,
      this.trainForm());
  }

  async show() {
    await this.load(this.selected);
  }

  // The list, then the report of `choose` (else the active model, else the newest).
  async load(choose = null) {
    const seq = ++this.seq;
    try {
      const answer = await getJSON("api/models");
      if (seq !== this.seq) return;
      this.models = answer.data;
    } catch (exc) {
      if (seq === this.seq) this.status.textContent = `Could not list the models: ${problem(exc)}`;
      return;
    }
    const active = this.models.find((m) => m.active);
    this.active.textContent = active
      ? `Model ${active.id} scores new leads: every result carries its probability of converting.`
      : "No model is active: results carry no probability of converting.";
    this.active.dataset.active = active ? String(active.id) : "";
    this.empty.hidden = this.models.length > 0;
    this.table.hidden = this.models.length === 0;
    this.tbody.replaceChildren(...this.models.map((m) => this.row(m)));
    const id = choose ?? active?.id ?? this.models[0]?.id ?? null;
    if (id !== null && this.models.some((m) => m.id === id)) await this.open(id);
    else this.report.hidden = true;
  }

  row(m) {
    const interval = m.auc_ci95 ? ` (${fixed(m.auc_ci95[0])}-${fixed(m.auc_ci95[1])})` : "";
    const buttons = [el("button", { type: "button", class: "small", text: "Report", "aria-label": `Report of model ${m.id}`, onclick: () => this.open(m.id, true) })];
    if (m.active) {
      buttons.push(el("button", { type: "button", class: "small", text: "Deactivate", "aria-label": `Deactivate model ${m.id}`, onclick: () => this.deactivate() }));
    } else {
      const newer = this.models.some((o) => o.active && o.id > m.id);
      const label = newer ? "Roll back to it" : "Activate";
      buttons.push(el("button", { type: "button", class: "small", text: label, "aria-label": `${label}: model ${m.id}`, onclick: () => this.activate(m.id, false) }));
    }
    return el("tr", { dataset: { model: m.id, active: String(m.active), verdict: m.verdict || "" } },
      el("td", { text: `Model ${m.id}` }),
      el("td", { text: when(m.created_at) }),
      el("td", { text: m.source }),
      el("td", { class: "num", text: m.rows.toLocaleString() }),
      el("td", { class: "num", text: `${fixed(m.auc)}${interval}` }),
      el("td", { class: "num", text: fixed(m.brier, 4) }),
      el("td", {}, el("span", { class: `verdict verdict-${(m.verdict || "").replace(" ", "-")}`, text: m.verdict === "no signal" ? "No signal" : "Signal" })),
      el("td", { text: m.active ? "In use" : "" }),
      el("td", {}, el("div", { class: "row-actions" }, buttons)));
  }

  async open(id, moveFocus = false) {
    this.selected = id;
    for (const tr of this.tbody.rows) tr.classList.toggle("selected", tr.dataset.model === String(id));
    let m;
    try {
      m = (await getJSON(`api/models/${id}`)).data;
    } catch (exc) {
      this.status.textContent = `Could not read model ${id}: ${problem(exc)}`;
      return;
    }
    if (this.selected !== id) return;
    this.report.replaceChildren(...this.reportParts(m));
    this.report.dataset.model = String(m.id);
    this.report.hidden = false;
    if (moveFocus) {
      const heading = this.report.querySelector("h2");
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  reportParts(m) {
    const r = m.report;
    const ci = r.model.auc_ci95 || [];
    const parts = [el("h2", { id: "model-report-title", text: `Model ${m.id}${m.active ? " (in use)" : ""}` }),
      el("p", { class: "meta", text: `Trained ${when(m.created_at)} on ${r.source}: ${plural(r.rows, "lead")}, ${r.converted.toLocaleString()} converted (${r.label}).` })];
    if (r.verdict === "no signal") {
      parts.push(el("div", { class: "no-signal", role: "note", id: "model-no-signal" },
        el("strong", { text: "No signal. " }),
        `This model does not rank converting leads above the others better than chance can explain: ${r.verdict_rule}. `
        + "Activating it needs a second confirmation."));
    }
    parts.push(el("dl", { class: "model-figures", id: "model-figures" },
      figure("AUC", fixed(r.model.auc), `95% interval ${fixed(ci[0])} to ${fixed(ci[1])}`),
      figure("Brier score", fixed(r.model.brier, 4), "lower is better"),
      figure("Naive Bayes baseline", `AUC ${fixed(r.naive_bayes.auc)}`, `Brier ${fixed(r.naive_bayes.brier, 4)}`),
      figure("Rules engine overall score", `AUC ${fixed(r.rules_overall_score.auc)}`),
      ...(r.llm_overall_score
        ? [figure("LLM overall score", `AUC ${fixed(r.llm_overall_score.auc)}`,
          `the ${r.llm_overall_score.leads} leads an LLM qualified`)]
        : []),
      figure("Evaluated by", r.evaluation)));
    parts.push(el("div", { class: "model-charts" },
      el("figure", { class: "chart-box" }, el("figcaption", { text: "Calibration: predicted beside converted" }),
        calibrationChart(r.calibration_table || [], m.drift?.calibration_table || null)),
      el("figure", { class: "chart-box" }, el("figcaption", { text: "Lift: conversion by decile" }),
        liftChart(r.deciles || []))));
    parts.push(this.driftPart(m.drift));
    if (r.probability_bands) parts.push(this.bandsPart(r.probability_bands));
    if ((r.strongest_factors || []).length) {
      parts.push(el("h3", { text: "Strongest factors" }),
        el("ul", { class: "strongest", id: "model-factors" }, r.strongest_factors.map((text) => el("li", { text }))));
    }
    const ignored = Object.entries(r.ignored_columns || {});
    if (ignored.length) {
      parts.push(el("details", { class: "ignored" }, el("summary", { text: `${plural(ignored.length, "column")} not used` }),
        el("ul", {}, ignored.map(([name, why]) => el("li", { text: `${name}: ${why}` })))));
    }
    const actions = [];
    if (m.active) actions.push(el("button", { type: "button", text: "Deactivate", onclick: () => this.deactivate() }));
    else actions.push(el("button", { type: "button", class: "primary", text: "Activate this model", onclick: () => this.activate(m.id, false) }));
    parts.push(el("div", { class: "actions" }, actions));
    return parts;
  }

  driftPart(drift) {
    if (!drift) return null;
    const box = el("section", { class: `drift drift-${drift.status}`, id: "model-drift", dataset: { status: drift.status } },
      el("h3", { text: "Since it was trained" }),
      el("p", { class: "drift-status", text: DRIFT[drift.status] || drift.status }));
    for (const reason of drift.reasons) box.append(el("p", { class: "drift-reason", text: reason }));
    if (drift.outcomes) {
      box.append(el("p", {
        text: `${plural(drift.outcomes, "lead")} it scored got an outcome: ${percent(drift.observed, 1)} converted `
          + `(95% interval ${percent(drift.observed_ci95[0], 1)}-${percent(drift.observed_ci95[1], 1)}), `
          + `it predicted ${percent(drift.predicted, 1)}.`,
      }));
    } else {
      box.append(el("p", { class: "muted", text: "No lead it scored has a won or lost outcome yet." }));
    }
    box.append(el("p", { class: "hint", text: `Trained ${Math.round(drift.age_days)} days ago. ${drift.rule}.` }));
    return box;
  }

  bandsPart(bands) {
    const cell = (row) => `${percent(row.share, 1)} of leads, ${row.conversion === null ? "-" : percent(row.conversion, 1)} converted`;
    return el("section", { class: "bands", id: "model-bands" },
      el("h3", { text: "Actions by probability" }),
      el("div", { class: "table-wrap" }, el("table", { class: "results" },
        el("thead", {}, el("tr", {}, ["Action", "From probability", "By overall score", "By probability"].map((text) => el("th", { scope: "col", text })))),
        el("tbody", {}, bands.bands.map((b) => el("tr", { dataset: { action: b.action } },
          el("td", {}, actionBadge(b.action)),
          el("td", { class: "num", text: b.probability_from === null ? "never" : percent(b.probability_from, 1) }),
          el("td", { text: cell(b.by_score) }),
          el("td", { text: cell(b.by_probability) })))))),
      el("p", { class: "hint", text: `Shares and conversion of the held-out leads. The cut-offs: ${bands.rule}. `
        + `With LEADQ_ACTION_BASIS=probability, ${ACTIONS.immediate_outreach} and the other actions follow them.` }));
  }

  async activate(id, force) {
    this.status.textContent = `Activating model ${id}…`;
    try {
      await postJSON(`api/models/${id}/activate${force ? "?force=true" : ""}`);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 409 && !force) {
        this.status.replaceChildren(el("span", { class: "problem", text: exc.message }), " ",
          el("button", { type: "button", class: "small danger", text: "Activate anyway", onclick: () => this.activate(id, true) }));
        return;
      }
      this.status.textContent = `Could not activate model ${id}: ${problem(exc)}`;
      return;
    }
    this.status.textContent = `Model ${id} is active: new results carry its probability (servers pick it up within seconds).`;
    await this.load(id);
  }

  async deactivate() {
    try {
      const answer = await postJSON("api/models/deactivate");
      this.status.textContent = answer.deactivated === null
        ? "No model was active."
        : `Model ${answer.deactivated} deactivated: new results carry no probability.`;
    } catch (exc) {
      this.status.textContent = `Could not deactivate: ${problem(exc)}`;
      return;
    }
    await this.load(this.selected);
  }

  // ---- training on a file of past leads ---------------------------------------------------

  trainForm() {
    this.file = el("input", { type: "file", id: "train-file", accept: ".csv,.jsonl,.ndjson,.json,text/csv,application/x-ndjson" });
    this.label = el("select", { id: "train-label", disabled: true });
    this.values = el("fieldset", { class: "train-values", id: "train-values", hidden: true }, el("legend", { text: "Values that mean converted" }));
    this.typed = el("input", { type: "text", id: "train-positive", placeholder: "e.g. Closed Won, 1" });
    this.dateColumn = el("select", { id: "train-date" });
    this.trainButton = el("button", { type: "submit", class: "primary", id: "train-start", text: "Train", disabled: true });
    this.progress = el("progress", { id: "train-progress", hidden: true });
    this.trainStatus = el("p", { id: "train-status", class: "status-line", role: "status", "aria-live": "polite" });
    this.file.addEventListener("change", () => this.readFile());
    this.label.addEventListener("change", () => this.offerValues());
    const form = el("form", { class: "train-form", id: "train-form", novalidate: true },
      el("div", { class: "field" }, el("label", { for: "train-file", text: "CSV or JSONL file of past leads" }), this.file,
        el("p", { class: "hint", text: "One lead a row, as the Batch view reads them, with a column that says how each one ended. Leads are read on the server; nothing is stored but the model." })),
      el("div", { class: "field" }, el("label", { for: "train-label", text: "Outcome column" }), this.label),
      this.values,
      el("div", { class: "field" }, el("label", { for: "train-positive", text: "Or type the values that mean converted" }), this.typed,
        el("p", { class: "hint", text: "Comma-separated; added to those ticked above." })),
      el("div", { class: "field" }, el("label", { for: "train-date", text: "Date column (optional)" }), this.dateColumn,
        el("p", { class: "hint", text: "With a date, the latest 20% of leads are the test set; it is never a feature." })),
      el("div", { class: "actions" }, this.trainButton), this.progress, this.trainStatus);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.train();
    });
    return el("section", { class: "train", "aria-labelledby": "train-title" }, el("h2", { id: "train-title", text: "Train a new model" }), form);
  }

  async readFile() {
    const file = this.file.files[0];
    this.source = null;
    this.label.replaceChildren();
    this.dateColumn.replaceChildren();
    this.values.hidden = true;
    this.trainButton.disabled = true;
    if (!file) return;
    try {
      this.source = readSource(file.name, await file.arrayBuffer());
    } catch (exc) {
      this.trainStatus.textContent = problem(exc);
      return;
    }
    const header = this.source.header;
    this.label.replaceChildren(el("option", { value: "", text: "Choose the outcome column" }),
      ...header.map((name) => el("option", { value: name, text: name })));
    this.dateColumn.replaceChildren(el("option", { value: "", text: "None" }),
      ...header.map((name) => el("option", { value: name, text: name })));
    this.label.disabled = false;
    this.trainButton.disabled = false;
    this.trainStatus.textContent = `${file.name}: ${plural(this.source.rows.length, "row")}, ${plural(header.length, "column")}.`;
  }

  // The chosen column's distinct values (as read from the file), to tick those that mean
  // converted.
  offerValues() {
    const name = this.label.value;
    const seen = new Map();
    if (this.source && name) {
      const at = this.source.header.indexOf(name);
      for (const row of this.source.rows) {
        const value = this.source.format === "csv" ? row[at] : row.value?.[name];
        const text = value === null || value === undefined ? "" : String(value).trim();
        if (text) seen.set(text, (seen.get(text) || 0) + 1);
        if (seen.size > MAX_CHOICES) break;
      }
    }
    const choices = seen.size <= MAX_CHOICES ? [...seen.entries()] : [];
    this.values.replaceChildren(el("legend", { text: `Values of ${name} that mean converted` }),
      ...choices.map(([value, count], i) => el("div", { class: "check" },
        el("input", { type: "checkbox", id: `train-value-${i}`, value }),
        el("label", { for: `train-value-${i}`, text: `${value} (${count.toLocaleString()})` }))));
    this.values.hidden = choices.length === 0;
  }

  positives() {
    const ticked = [...this.values.querySelectorAll("input:checked")].map((box) => box.value);
    const typed = this.typed.value.split(",").map((v) => v.trim()).filter(Boolean);
    return [...new Set([...ticked, ...typed])];
  }

  async train() {
    const file = this.file.files[0];
    const positive = this.positives();
    if (!file || !this.source) {
      this.trainStatus.textContent = "Choose a file of past leads first.";
      return;
    }
    if (!this.label.value) {
      this.trainStatus.textContent = "Choose the column that says how each lead ended.";
      this.label.focus();
      return;
    }
    if (!positive.length) {
      this.trainStatus.textContent = `Tick or type the values of ${this.label.value} that mean converted.`;
      return;
    }
    const body = {
      source: "file", filename: file.name, content: this.source.decoded.text,
      label: this.label.value, positive, date_column: this.dateColumn.value || null,
    };
    this.trainButton.disabled = true;
    this.progress.hidden = false;
    this.progress.removeAttribute("value"); // indeterminate: the server says only running or done
    this.trainStatus.textContent = `Training on ${file.name}…`;
    let training;
    try {
      training = (await postJSON("api/models/train", body)).data;
    } catch (exc) {
      this.finishTraining(`Could not start the training: ${problem(exc)}`);
      return;
    }
    this.trainStatus.dataset.training = training.training_id;
    for (;;) {
      await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
      try {
        training = (await getJSON(`api/models/train/${training.training_id}`)).data;
      } catch (exc) {
        this.finishTraining(`Could not follow the training: ${problem(exc)}`);
        return;
      }
      if (training.state !== "running") break;
      const seconds = Math.round((Date.now() - new Date(training.started_at).getTime()) / 1000);
      this.trainStatus.textContent = `Training on ${file.name}… ${seconds} s`;
    }
    if (training.state === "failed") {
      this.finishTraining(`The training failed: ${training.error}`);
      return;
    }
    const verdict = training.verdict === "no signal" ? "no signal: read the report before using it" : "signal";
    this.finishTraining(`Model ${training.model_id} stored (${verdict}). It is not in use until you activate it.`);
    await this.load(training.model_id);
  }

  finishTraining(message) {
    this.trainStatus.textContent = message;
    this.progress.hidden = true;
    this.trainButton.disabled = false;
  }
}
