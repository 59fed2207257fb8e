// Small DOM and formatting helpers shared by the views.

// el("p", {class: "x", text: "hi", onclick: fn}, child, ...) -> HTMLElement
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export const ACTIONS = {
  immediate_outreach: "Immediate outreach",
  qualified_nurture: "Nurture",
  followup_research: "Research further",
  not_qualified: "Not qualified",
  manual_review: "Manual review",
};

// Flags a person must see, with what each means.
export const FLAGS = {
  score_clamped: ["Score clamped", "The model gave a score outside the 0-100 range; it was clamped into range."],
  action_adjusted: ["Action adjusted", "The model's action contradicted the score bands; the band's action is shown."],
  missing_critical_info: ["Missing critical info", "Industry, job title or company size is missing, so a person should review this lead."],
  suspected_injection: ["Suspected prompt injection", "The lead's text looks like it tries to instruct the model. Check it before acting."],
  list_truncated: ["List truncated", "A list was longer than 8 items and was cut."],
  fallback_used: ["Fallback provider", "The first provider failed or was paused; another one answered."],
  escalated: ["Escalated", "Confidence was low, so a stronger model answered."],
  escalation_failed: ["Escalation failed", "Confidence was low and the stronger model failed; this is the first answer."],
  budget_exceeded: ["Budget reached", "Today's LLM budget is spent; the rules engine answered."],
  routed: ["Routed", "The rules engine rated this lead high, so the model for valuable leads answered."],
  text_truncated: ["Text cut", "A long note was cut to its limit; the result was computed from the cut text."],
};

// What happened to a lead, as `POST api/leads/{id}/outcome` records it.
export const OUTCOMES = {
  won: "Won",
  lost: "Lost",
  no_response: "No response",
  disqualified: "Disqualified",
};

export function actionBadge(action) {
  if (!action) return el("span", { class: "badge", text: "-" });
  return el("span", { class: `badge action-${action}`, dataset: { action }, text: ACTIONS[action] || action });
}

export function flagChips(flags = []) {
  return flags.map((flag) => {
    const [label, why] = FLAGS[flag] || [flag, ""];
    return el("span", { class: "flag", dataset: { flag }, title: why }, el("span", { "aria-hidden": "true", text: "! " }), label,
      el("span", { class: "visually-hidden", text: why ? `: ${why}` : "" }));
  });
}

// A score as the page shows it: the API's 0-1 on a 0-100 scale, as the whole number below it
// (0.749 is 74), so that a shown score never sits on the other side of a band's edge from
// its action (75 and above is outreach). Scores have three decimals: rounding to them first
// keeps 0.57 at 57. Downloads keep the API's 0-1 numbers.
export function pct(score) {
  return typeof score === "number" && Number.isFinite(score) ? `${Math.floor(Math.round(score * 1000) / 10)}` : "-";
}

// The score band an overall score falls in (the README's table), for colour.
export function band(score) {
  if (typeof score !== "number") return "none";
  if (score >= 0.75) return "high";
  if (score >= 0.55) return "good";
  if (score >= 0.35) return "mid";
  return "low";
}

// A small horizontal score bar with its number, for tables.
export function miniBar(score) {
  if (typeof score !== "number") return el("span", { class: "muted no-result", text: "no stored result" });
  const fill = el("span", { class: "mini-fill" });
  fill.style.setProperty("--v", String(score));
  return el("span", { class: `mini band-${band(score)}` },
    el("span", { class: "mini-track", "aria-hidden": "true" }, fill),
    el("span", { class: "mini-num", text: pct(score) }));
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFmt.format(date);
}

const dayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

// A calendar day ("2026-01-05", an outcome's date) as people read it, on that day wherever
// the reader is (new Date("2026-01-05") is midnight UTC: the day before, west of London).
export function day(iso) {
  const [y, m, d] = String(iso || "").split("-").map(Number);
  return y && m && d ? dayFmt.format(new Date(y, m - 1, d)) : iso || "";
}

// Today on the reader's calendar, as an ISO date (the default of an outcome's date).
export function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

export function plural(n, word) {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}

// Copy text to the clipboard; falls back to a selection where the Clipboard API is missing
// (plain http on a LAN address is not a secure context).
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea", { class: "visually-hidden", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy was refused");
}

// Offer `data` (text or a Blob) as a file download.
export function download(name, data, type) {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Ask before something that cannot be undone, in the page's confirm dialog; resolves to
// whether the person confirmed.
export function confirmAction({ title, message, confirm }) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-message").textContent = message;
  document.getElementById("confirm-ok").textContent = confirm;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus(); // the safe choice has the focus
  });
}
