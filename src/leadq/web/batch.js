// The Batch view: read a CSV or JSONL file in the browser as the CLI reads it (leadfile.js,
// columns.js) to show how its columns will be read and let the person choose what the
// columns leadq does not know become; then send the file as it is to POST api/jobs (the
// choices as `map=COLUMN=FIELD`, "ignore" for a column left out), where the server reads it
// again and runs it as a job. The jobs, their progress and results are in jobs.js.

import { ApiError, postFile } from "./api.js";
import { ATTRIBUTE, ColumnMap, IGNORE, MAP_FIELDS, columnTable } from "./columns.js";
import { el, plural } from "./dom.js";
import { FORM_FIELDS, LEAD_COLUMNS } from "./fields.js";
import { JobList, JobPanel, POLL_MS, lastJob } from "./jobs.js";
import { LeadFileError, MAX_FILE_BYTES, leadsFrom, readSource } from "./leadfile.js";

const byId = (id) => document.getElementById(id);
const TYPES = { csv: "text/csv", jsonl: "application/x-ndjson" };

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
    this.file = null;
    this.source = null; // the file as read, before its columns are mapped
    this.aliases = null;
    this.choices = {}; // column -> ATTRIBUTE, IGNORE or a field, for columns leadq does not know
    this.notes = [];
    this.rows = 0;
    this.sending = false;
    this.section = byId("view-batch");
    this.mapping = byId("batch-mapping");
    this.warnings = byId("batch-warnings");
    this.read = byId("batch-read");
    this.picker = byId("batch-file");
    this.start = byId("batch-start");
    this.list = new JobList();
    this.panel = new JobPanel({ onChange: (job) => this.list.update(job), onAct: () => this.look() });
    this.timer = null;
    this.looking = null;
    this.again = false;
    byId("batch-columns").textContent = LEAD_COLUMNS.join(", ");
    this.picker.addEventListener("change", (event) => this.load(event.target.files[0]));
    this.start.addEventListener("click", () => this.submit());
  }

  // The route: #/batch/<id> opens that job; #/batch the one this browser last opened, if
  // the server still lists it.
  show(id) {
    if (id) this.openJob(id);
    this.look();
  }

  openJob(id) {
    this.panel.open(id);
    this.list.current = id;
    this.list.render();
  }

  // Look at the jobs now, then every POLL_MS while one of them runs and the view is shown.
  look() {
    if (this.looking) {
      this.again = true;
      return this.looking;
    }
    this.looking = (async () => {
      try {
        do {
          this.again = false;
          clearTimeout(this.timer);
          if (this.section.hidden) return;
          await this.lookOnce();
        } while (this.again);
      } finally {
        this.looking = null;
      }
      if (this.panel.busy() || this.list.busy()) this.timer = setTimeout(() => this.look(), POLL_MS);
    })();
    return this.looking;
  }

  async lookOnce() {
    try {
      await this.list.refresh();
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc; // the panel says what is wrong
    }
    const last = lastJob();
    if (this.panel.id === null && last && this.list.jobs.some((job) => job.id === last)) this.openJob(last);
    await this.panel.refresh();
  }

  async load(file) {
    if (!file) return;
    this.warnings.replaceChildren();
    Object.assign(this, { file: null, source: null, choices: {}, notes: [], rows: 0 });
    this.mapping.hidden = true;
    try {
      if (file.size > MAX_FILE_BYTES) throw new LeadFileError(`${file.name}: larger than ${MAX_FILE_BYTES / 2 ** 20} MB`);
      const [bytes, aliases] = await Promise.all([file.arrayBuffer(), columnTable()]);
      this.aliases = aliases;
      if (!aliases) this.notes.push("the server's table of CRM column names could not be read: only leadq's own field names are known");
      this.source = readSource(file.name, bytes);
      this.file = file;
      this.readColumns();
    } catch (exc) {
      if (!(exc instanceof LeadFileError)) throw exc;
      this.problem(exc.message);
      this.setState();
    }
  }

  problem(message) {
    this.warnings.append(el("li", { class: "problem", role: "alert", text: message }));
  }

  // The file's rows with the columns read as the table and the person's choices say: what
  // the server will make of them, shown before it is sent.
  readColumns() {
    const columns = new ColumnMap(this.aliases, this.choices, DEFAULT_CHOICE);
    const { rows, warnings: problems, notes, plan } = leadsFrom(this.source, columns);
    this.rows = rows.length;
    this.warnings.replaceChildren(...[...this.notes, ...notes, ...problems].map((note) => el("li", { text: note })));
    if (!rows.length) this.warnings.append(el("li", { text: `${this.file.name} has no rows` }));
    this.renderMapping(plan, columns);
    this.setState();
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

  setState() {
    this.start.disabled = this.sending || !this.file || !this.rows;
    this.picker.disabled = this.sending;
    for (const select of this.mapping.querySelectorAll("select")) select.disabled = this.sending;
    if (this.sending) this.read.textContent = `Sending ${this.file.name}…`;
    else if (this.file) this.read.textContent = `${this.file.name}: ${plural(this.rows, "row")}.`;
    else this.read.textContent = "";
  }

  // Send the file as it is, with the column choices; the server reads it (refusing a file
  // it cannot read, naming the row or byte) and runs it as a job, opened here.
  async submit() {
    if (!this.file || this.sending) return;
    const { file, source } = this;
    const params = new URLSearchParams({ format: source.format, name: file.name });
    for (const [column, choice] of Object.entries(this.choices)) {
      if (choice !== ATTRIBUTE) params.append("map", `${column}=${choice}`);
    }
    this.sending = true;
    this.setState();
    let job = null;
    try {
      job = (await postFile(`api/jobs?${params}`, file, TYPES[source.format])).data;
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
      this.problem(exc.message);
    } finally {
      this.sending = false;
      this.setState();
    }
    if (!job) return;
    Object.assign(this, { file: null, source: null, choices: {}, rows: 0 });
    this.picker.value = "";
    this.mapping.hidden = true;
    this.warnings.replaceChildren();
    this.setState();
    this.list.update(job);
    location.hash = `#/batch/${job.id}`;
  }
}
