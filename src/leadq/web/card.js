// The result card: score bars, action badge, the conversion model's probability and factors,
// reasoning, lists, suggested message, small print.
// It fills in as a stream's partial fields arrive; `data-state` on the card says how far it is
// (idle, streaming, partial, final, error).

import { ACTIONS, actionBadge, band, copyText, el, flagChips, pct } from "./dom.js";
import { scoreHelp } from "./help.js";

const SCORES = [
  ["overall_score", "Overall"],
  ["fit_score", "Fit"],
  ["budget_score", "Budget"],
  ["urgency_score", "Urgency"],
  ["authority_score", "Authority"],
  ["confidence", "Confidence"],
];
const TEXTS = [
  ["reasoning", "Reasoning"],
  ["reasoning_for_action", "Why this action"],
];
const LISTS = [
  ["key_insights", "Key insights"],
  ["positive_indicators", "Positive indicators"],
  ["risk_factors", "Risks"],
  ["follow_up_questions", "Follow-up questions"],
];

let cardCount = 0;

// Results stored by earlier versions end their "why this action" with the policy's note in
// brackets, "[leadq: action set to X (why); the model proposed Y]": shown as the policy
// words it now (core/policy.py), without naming a model when the rules engine answered.
const OLD_NOTE = /\s*\[leadq: action set to (\w+) \(([^)]*)\); the model proposed (\w+)\]/g;

function reason(part, action) {
  if (part.startsWith("missing ")) return `critical information is missing (${part.slice(8)})`;
  if (part.startsWith("overall score ")) return `the overall score falls in the ${action} band`;
  if (part.startsWith("suspected ")) return `there is a ${part}`;
  return part;
}

export function plainNote(text, provider) {
  return text.replace(OLD_NOTE, (_, action, why, proposed) => {
    const note = ` Action set to ${action} because ${why.split("; ").map((p) => reason(p, action)).join(" and ")}`;
    return provider === "rules" ? `${note}.` : `${note}; the model proposed ${proposed}.`;
  }).trim();
}

function money(usd) {
  if (usd === null || usd === undefined) return "cost unknown (model not in the price table)";
  if (usd === 0) return "no cost";
  return `$${usd < 0.01 ? usd.toPrecision(2) : usd.toFixed(2)}`;
}

export class ResultCard {
  constructor(host, { onRetry, linkHistory = true, explain = true } = {}) {
    const id = `card${++cardCount}`;
    this.onRetry = onRetry;
    this.linkHistory = linkHistory;
    this.bars = {};
    this.texts = {};
    this.lists = {};
    const bars = SCORES.map(([key, label]) => {
      const fill = el("span", { class: "bar-fill" });
      const value = el("span", { class: "bar-value", text: "-" });
      const bar = el("span", {
        class: "bar", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100,
        "aria-labelledby": `${id}-${key}`, dataset: { field: key },
      }, fill);
      this.bars[key] = { bar, fill, value };
      return el("div", { class: `bar-row${key === "overall_score" ? " overall" : ""}` },
        el("span", { class: "bar-label", id: `${id}-${key}`, text: label }), bar, value);
    });
    this.action = el("div", { class: "action-slot" });
    this.flags = el("div", { class: "flags" });
    const sections = TEXTS.map(([key, title]) => {
      this.texts[key] = el("p");
      return el("section", { class: `text ${key}`, hidden: true }, el("h3", { text: title }), this.texts[key]);
    });
    const lists = LISTS.map(([key, title]) => {
      this.lists[key] = el("ul");
      return el("section", { class: `list ${key}`, hidden: true }, el("h3", { text: title }), this.lists[key]);
    });
    this.message = el("p", { class: "message-text" });
    this.copyStatus = el("span", { class: "copy-status", role: "status" });
    this.copyButton = el("button", { type: "button", class: "copy", text: "Copy message", onclick: () => this.copy() });
    this.messageBox = el("section", { class: "message", hidden: true },
      el("h3", { text: "Suggested message" }), this.message,
      el("div", { class: "actions" }, this.copyButton, this.copyStatus));
    this.chance = el("p", { class: "chance-value" });
    this.raises = el("ul", { class: "factors-up" });
    this.lowers = el("ul", { class: "factors-down" });
    this.probability = el("section", { class: "probability", hidden: true },
      el("h3", { text: "Chance to convert" }), this.chance,
      el("div", { class: "factors" },
        el("div", { class: "factor-list", dataset: { way: "up" } }, el("h4", { text: "Raises it" }), this.raises),
        el("div", { class: "factor-list", dataset: { way: "down" } }, el("h4", { text: "Lowers it" }), this.lowers)));
    this.error = el("div", { class: "card-error", role: "alert", hidden: true });
    this.smallPrint = el("footer", { class: "small-print" });
    this.root = el("article", { class: "card", dataset: { state: "idle" }, "aria-label": "Qualification result" },
      el("header", { class: "card-head" }, this.action, this.flags),
      el("div", { class: "bars" }, bars),
      this.probability,
      explain ? scoreHelp() : null,
      this.error,
      el("div", { class: "texts" }, sections),
      el("div", { class: "lists" }, lists),
      this.messageBox,
      this.smallPrint);
    host.replaceChildren(this.root);
  }

  get state() {
    return this.root.dataset.state;
  }

  // Set `data-state` only when it changes, so each change is one observable mutation.
  setState(state) {
    if (this.root.dataset.state !== state) this.root.dataset.state = state;
    this.root.setAttribute("aria-busy", String(state === "streaming" || state === "partial"));
  }

  reset(state = "idle") {
    for (const { bar, fill, value } of Object.values(this.bars)) {
      delete bar.dataset.score;
      bar.removeAttribute("aria-valuenow");
      bar.className = "bar";
      fill.style.removeProperty("--v");
      value.textContent = "-";
    }
    this.action.replaceChildren();
    delete this.action.dataset.action;
    this.flags.replaceChildren();
    for (const p of Object.values(this.texts)) p.textContent = "";
    for (const ul of Object.values(this.lists)) ul.replaceChildren();
    for (const section of this.root.querySelectorAll("section")) section.hidden = true;
    this.message.textContent = "";
    this.copyStatus.textContent = "";
    this.error.hidden = true;
    this.error.replaceChildren();
    this.smallPrint.replaceChildren();
    this.showProbability({});
    this.setState(state);
  }

  // The active conversion model's probability and the factors behind it (three each way),
  // when the result has them; nothing when it has none.
  showProbability(result) {
    const p = result.conversion_probability;
    this.probability.hidden = typeof p !== "number";
    delete this.probability.dataset.probability;
    if (this.probability.hidden) return;
    this.probability.dataset.probability = String(p);
    const basis = result.action_basis === "probability" ? " The next step follows it." : "";
    this.chance.textContent = `${Math.round(p * 100)}%`;
    this.chance.append(el("span", { class: "muted", text: ` by conversion model ${result.model_version}.${basis}` }));
    const factors = (result.factors || []).filter((f) => typeof f === "string");
    const up = factors.filter((f) => /: \+\d+ points?$/.test(f));
    const down = factors.filter((f) => !up.includes(f));
    this.raises.replaceChildren(...up.map((text) => el("li", { text })));
    this.lowers.replaceChildren(...down.map((text) => el("li", { text })));
    this.raises.parentElement.hidden = up.length === 0;
    this.lowers.parentElement.hidden = down.length === 0;
  }

  // Show the fields known so far: a stream's partial fields, or a whole result (`final`).
  update(fields, state) {
    this.setState(state);
    for (const [key] of SCORES) {
      const score = fields[key];
      if (typeof score !== "number") continue;
      const { bar, fill, value } = this.bars[key];
      const text = score.toFixed(3);
      if (bar.dataset.score === text) continue;
      bar.dataset.score = text;
      bar.setAttribute("aria-valuenow", pct(score));
      bar.className = `bar band-${key === "confidence" ? "info" : band(score)}`;
      fill.style.setProperty("--v", String(score));
      value.textContent = pct(score);
    }
    if (fields.recommended_action && this.action.dataset.action !== fields.recommended_action) {
      this.action.dataset.action = fields.recommended_action;
      this.action.replaceChildren(el("span", { class: "action-label", text: "Next step" }), actionBadge(fields.recommended_action));
    }
    for (const [key] of TEXTS) {
      const value = fields[key];
      this.setText(this.texts[key], typeof value === "string" ? plainNote(value, fields.provider) : value);
    }
    for (const [key] of LISTS) this.setList(this.lists[key], fields[key]);
    this.setText(this.message, fields.suggested_messaging);
    if (state === "final") this.finish(fields);
  }

  setText(node, value) {
    if (typeof value !== "string" || !value) return;
    if (node.textContent !== value) node.textContent = value;
    node.closest("section").hidden = false;
  }

  setList(ul, items) {
    if (!Array.isArray(items) || !items.length) return;
    const texts = items.filter((item) => typeof item === "string" && item);
    ul.replaceChildren(...texts.map((text) => el("li", { text })));
    ul.closest("section").hidden = texts.length === 0;
  }

  finish(result) {
    if (!this.action.dataset.action) this.action.replaceChildren(actionBadge(result.recommended_action));
    this.showProbability(result);
    this.flags.replaceChildren(...flagChips(result.flags));
    const usage = result.usage || {};
    // A result stored by an earlier version may lack a part: it is left out, never "null".
    const parts = [[result.provider, result.model].filter(Boolean).join(" · ")];
    if (result.prompt_version) parts.push(`prompt ${result.prompt_version}`);
    if (result.profile_version) parts.push(`profile ${result.profile_version}`);
    if (Number.isFinite(result.latency_ms)) parts.push(`${Math.round(result.latency_ms).toLocaleString()} ms`);
    if (usage.input_tokens || usage.output_tokens) {
      parts.push(`${(usage.input_tokens || 0).toLocaleString()} in / ${(usage.output_tokens || 0).toLocaleString()} out tokens`);
    }
    parts.push(money(result.cost_usd));
    if (result.cached) parts.push("cached");
    const items = [el("span", { text: parts.join(" · ") })];
    if (result.lead_ref && this.linkHistory) {
      items.push(el("a", { href: `#/leads/${result.lead_ref}`, text: "Lead history" }));
    }
    this.smallPrint.replaceChildren(...items);
  }

  // A failed qualification: what failed, and a way to try again when that could help.
  showError(error) {
    this.setState("error");
    const retry = error.retryable && this.onRetry
      ? el("button", { type: "button", class: "retry", text: "Try again", onclick: () => this.onRetry() })
      : null;
    this.error.replaceChildren(
      el("p", {}, el("strong", { text: error.retryable ? "Could not qualify this lead (worth retrying): " : "Could not qualify this lead: " }), error.message || "unknown error"),
      el("p", { class: "small-print", text: `code: ${error.error || error.code}` }),
      retry);
    this.error.hidden = false;
  }

  async copy() {
    try {
      await copyText(this.message.textContent);
      this.copyStatus.textContent = "Copied";
    } catch {
      this.copyStatus.textContent = "Copy failed: select the text and copy it yourself";
    }
  }

  summary() {
    const action = this.action.dataset.action;
    const overall = this.bars.overall_score.bar.dataset.score;
    return action ? `${ACTIONS[action] || action}, overall ${pct(Number(overall))} of 100` : "";
  }
}
