// The Qualify view: the lead form, and a result card filled live from
// POST api/leads/qualify-stream (partial events, then result or error, which ends it).

import { ApiError, postEvents } from "./api.js";
import { ResultCard } from "./card.js";
import { el } from "./dom.js";
import { EXAMPLE_LEAD, FORM_FIELDS } from "./fields.js";

const byId = (id) => document.getElementById(id);

export class QualifyView {
  constructor() {
    this.form = byId("lead-form");
    this.status = byId("qualify-status");
    this.formError = byId("form-error");
    this.submit = byId("qualify-submit");
    this.stop = byId("qualify-stop");
    this.inputs = {};
    this.errors = {};
    this.controller = null;
    byId("lead-fields").append(...FORM_FIELDS.map((field) => this.field(field)));
    this.card = new ResultCard(byId("qualify-card"), { onRetry: () => this.form.requestSubmit() });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitLead();
    });
    this.form.addEventListener("reset", () => {
      this.controller?.abort();
      this.clearErrors();
      this.card.reset();
      this.status.textContent = "Results appear here as the model answers.";
    });
    this.stop.addEventListener("click", () => this.controller?.abort());
    byId("qualify-example").addEventListener("click", () => this.prefill(EXAMPLE_LEAD));
  }

  field(spec) {
    const id = `f-${spec.name}`;
    const hint = spec.hint ? el("p", { class: "hint", id: `${id}-hint`, text: spec.hint }) : null;
    const error = el("p", { class: "field-error", id: `${id}-error`, hidden: true });
    const input = el(spec.multiline ? "textarea" : "input", {
      id,
      name: spec.name,
      type: spec.multiline ? null : spec.type || "text",
      rows: spec.multiline ? 3 : null,
      maxlength: spec.max,
      required: spec.required,
      autocomplete: spec.autocomplete || "off",
      inputmode: spec.inputmode,
      placeholder: spec.placeholder,
      "aria-describedby": [hint?.id, error.id].filter(Boolean).join(" "),
    });
    input.addEventListener("input", () => this.setError(spec.name, null));
    this.inputs[spec.name] = input;
    this.errors[spec.name] = error;
    const label = el("label", { for: id }, spec.label,
      spec.required ? el("span", { class: "req", "aria-hidden": "true", text: " *" }) : null);
    return el("div", { class: `field${spec.multiline ? " wide" : ""}`, dataset: { field: spec.name } }, label, input, hint, error);
  }

  prefill(lead) {
    for (const [name, input] of Object.entries(this.inputs)) input.value = lead[name] ?? "";
    this.clearErrors();
  }

  // Show (or clear, with null) the message next to a field; false if there is no such field.
  setError(name, message) {
    const error = this.errors[name];
    if (!error) return false;
    error.textContent = message || "";
    error.hidden = !message;
    if (message) this.inputs[name].setAttribute("aria-invalid", "true");
    else this.inputs[name].removeAttribute("aria-invalid");
    return true;
  }

  clearErrors() {
    for (const name of Object.keys(this.errors)) this.setError(name, null);
    this.formError.hidden = true;
    this.formError.textContent = "";
  }

  // Field messages from the client's checks or the server's 422 `fields`.
  showErrors(fields) {
    const loose = [];
    for (const { field, message } of fields) {
      const text = String(message).replace(/^Value error, /, "");
      if (!this.setError(field, text)) loose.push(`${field}: ${text}`);
    }
    if (loose.length) {
      this.formError.textContent = loose.join("; ");
      this.formError.hidden = false;
    }
    const first = FORM_FIELDS.find((f) => !this.errors[f.name].hidden);
    if (first) this.inputs[first.name].focus();
    this.status.textContent = "Check the marked fields.";
  }

  readLead() {
    const lead = {};
    for (const [name, input] of Object.entries(this.inputs)) {
      const value = input.value.trim();
      if (value) lead[name] = value;
    }
    return lead;
  }

  // The server checks everything; the form checks only required fields, to save a round trip.
  submitLead() {
    this.clearErrors();
    const lead = this.readLead();
    const missing = FORM_FIELDS.filter((f) => f.required && !lead[f.name]);
    if (missing.length) {
      this.showErrors(missing.map((f) => ({ field: f.name, message: `${f.label} is required.` })));
      return;
    }
    this.run(lead);
  }

  busy(on) {
    this.submit.disabled = on;
    this.stop.hidden = !on;
    this.form.setAttribute("aria-busy", String(on));
  }

  async run(lead) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.card.reset("streaming");
    this.busy(true);
    this.status.textContent = "Qualifying…";
    if (matchMedia("(max-width: 60rem)").matches) this.status.scrollIntoView({ block: "start" });
    let ended = false;
    try {
      for await (const { event, data } of postEvents("api/leads/qualify-stream", lead, controller.signal)) {
        if (event === "partial") {
          this.card.update(data, "partial");
        } else if (event === "result") {
          ended = true;
          this.card.update(data, "final");
          this.status.textContent = `Done: ${this.card.summary()}.`;
        } else if (event === "error") {
          ended = true;
          this.card.showError(data.error);
          if (data.error.field) this.setError(data.error.field, data.error.message);
          this.status.textContent = "The qualification failed.";
        }
      }
      if (!ended) {
        this.card.showError({ error: "stream_cut", message: "the connection ended before the result arrived", retryable: true });
        this.status.textContent = "The qualification failed.";
      }
    } catch (exc) {
      if (exc.name === "AbortError") {
        this.card.setState("idle");
        this.status.textContent = "Stopped.";
      } else if (exc instanceof ApiError && exc.status === 422 && exc.fields.length) {
        this.card.reset();
        this.showErrors(exc.fields);
      } else if (exc instanceof ApiError) {
        this.card.showError(exc.asLeadError());
        this.status.textContent = "The qualification failed.";
      } else {
        this.card.showError({ error: "client_error", message: String(exc), retryable: true });
        throw exc;
      }
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.busy(false);
      }
    }
  }
}
