// What the scores mean and how Overall is weighted, with this server's weights: the health
// answer (which needs no key) gives them as `score_weights`, each component's share.

import { getJSON } from "./api.js";
import { el } from "./dom.js";

// LEADQ_SCORE_WEIGHTS' defaults, shown only when the server's cannot be read.
const DEFAULT_WEIGHTS = { fit: 0.35, budget: 0.25, urgency: 0.2, authority: 0.2 };
const COMPONENTS = [
  ["fit", "Fit", "How well the company matches the buyers you sell to: industry, size, revenue and the person's role."],
  ["budget", "Budget", "Evidence that it can pay: revenue, headcount, funding, a budget someone mentioned."],
  ["urgency", "Urgency", "How soon it is likely to decide: demo requests, pricing visits, trials, a stated timeline."],
  ["authority", "Authority", "Whether this person can buy: highest for C-level and founders, then VPs and heads, directors, managers."],
];
const CONFIDENCE = "How sure the answer is: lower when facts are missing or contradict each other. It is not part of Overall.";
const BANDS = "Overall 75 and above: Immediate outreach. 55 to 74: Nurture. 35 to 54: Research further. "
  + "Below 35: Not qualified. Manual review instead when the industry, the job title or the company size is "
  + "missing, when the lead's text looks like a prompt injection, or when the answer is unsure and asks for a person.";

const PROFILE_HINT = "To change it, edit the file LEADQ_ICP_FILE names (check it with "
  + "`leadq profile check FILE`) and restart leadq.";

let health = null;
let profile = null;

// The seller profile in force (GET /api/profile), asked for once (again after a failure).
function sellerProfile() {
  profile ??= getJSON("api/profile").catch((exc) => {
    profile = null;
    throw exc;
  });
  return profile;
}

// What fit is scored against, read-only: the offer the LLM reads and where it comes from.
function profileSection() {
  const section = el("div", { class: "seller-profile" },
    el("p", { text: "Fit is scored against this server's seller profile." }));
  sellerProfile()
    .then((answer) => {
      const offer = (answer.profile && answer.profile.offer) || {};
      const lines = [
        ["Offer", offer.description],
        ["Ideal customer", offer.ideal_customer],
        ["Disqualifiers", (offer.disqualifiers || []).join("; ")],
      ].filter(([, text]) => text);
      section.replaceChildren(
        el("p", { text: `Seller profile ${answer.version} (from ${answer.source}).` }),
        ...lines.map(([term, text]) => el("p", { class: "offer", text: `${term}: ${text}` })),
        el("p", { class: "hint", text: answer.offer_given ? PROFILE_HINT
          : `This file has no [offer]; the LLM is told the default one. ${PROFILE_HINT}` }));
      section.dataset.version = answer.version;
    })
    .catch(() => { section.dataset.version = ""; });
  return section;
}

// The health answer, asked for once (again after a failure).
export function serverHealth() {
  health ??= getJSON("api/leads/health").catch((exc) => {
    health = null;
    throw exc;
  });
  return health;
}

function share(value) {
  return `${Math.round(value * 1000) / 10}%`;
}

function weighting(weights, own) {
  const parts = COMPONENTS.map(([key, label]) => `${share(weights[key])} ${label.toLowerCase()}`);
  const whose = own ? "this server's weights" : "the default weights: this server's could not be read";
  return `Overall is the weighted mean of the four: ${parts.join(" + ")} (${whose}).`;
}

// A collapsed "What the scores mean" box, for beside the score bars.
export function scoreHelp() {
  const weights = el("p", { class: "weights", text: "Overall is the weighted mean of fit, budget, urgency and authority." });
  const terms = el("dl", {},
    COMPONENTS.map(([, label, text]) => [el("dt", { text: label }), el("dd", { text })]),
    el("dt", { text: "Confidence" }), el("dd", { text: CONFIDENCE }));
  serverHealth()
    .then((answer) => {
      const given = answer.score_weights;
      const own = given && COMPONENTS.every(([key]) => typeof given[key] === "number");
      weights.textContent = weighting(own ? given : DEFAULT_WEIGHTS, own);
      weights.dataset.source = own ? "server" : "default";
    })
    .catch(() => {
      weights.textContent = weighting(DEFAULT_WEIGHTS, false);
      weights.dataset.source = "default";
    });
  return el("details", { class: "score-help" },
    el("summary", { text: "What the scores mean" }),
    el("p", { text: "Every score runs from 0 to 100 (downloads and the API give them from 0 to 1)." }),
    terms, weights, el("p", { text: BANDS }), profileSection());
}
