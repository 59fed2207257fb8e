// The leadq web UI: four views (Qualify, Batch, History, Model) and a lead page, chosen by the
// URL's hash (#/qualify, #/batch, #/batch/<job id>, #/history, #/models, #/leads/12), over the
// service's own JSON API.

import { BatchView } from "./batch.js";
import { serverHealth } from "./help.js";
import { HistoryView, LeadView } from "./history.js";
import { ModelView } from "./models.js";
import { QualifyView } from "./qualify.js";

const qualify = new QualifyView();
const batch = new BatchView();
const history = new HistoryView();
const models = new ModelView();
const lead = new LeadView({
  onQualifyAgain(input) {
    qualify.prefill(input);
    location.hash = "#/qualify";
  },
});

const ROUTES = [
  [/^#\/qualify$/, "qualify", () => {}],
  [/^#\/batch(?:\/([0-9a-f]+))?$/, "batch", (id) => batch.show(id)],
  [/^#\/history$/, "history", () => history.show()],
  [/^#\/leads\/(\d+)$/, "lead", (id) => lead.show(id)],
  [/^#\/models$/, "models", () => models.show()],
];

function route(moveFocus) {
  const hash = location.hash || "#/qualify";
  const [pattern, view, show] = ROUTES.find(([p]) => p.test(hash)) || ROUTES[0];
  const param = (hash.match(pattern) || [])[1];
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  const tab = view === "lead" ? "history" : view;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const heading = document.querySelector(`#view-${view} h1`);
  document.title = `${heading.textContent} · leadq`;
  if (moveFocus) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
  show(param);
}

// Which backend answers, in the header (the health route needs no key).
async function showHealth() {
  const node = document.getElementById("health");
  try {
    const health = await serverHealth();
    node.textContent = `${health.provider} · ${health.model}`;
    node.dataset.status = health.status;
    if (health.status !== "healthy") node.textContent += ` · ${health.detail || "degraded"}`;
  } catch {
    node.textContent = "server not reachable";
    node.dataset.status = "degraded";
  }
}

window.addEventListener("hashchange", () => route(true));
route(false);
showHealth();
document.body.dataset.ready = "true";
