// A lead's overall score over time as an inline SVG line chart (no library), drawn over the
// score bands that decide the action.

import { ACTIONS, band, pct, when } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 800;
const H = 260;
const PAD = { left: 40, right: 12, top: 12, bottom: 40 };
const ZONES = [
  [0.75, 1, "high", "Outreach"],
  [0.55, 0.75, "good", "Nurture"],
  [0.35, 0.55, "mid", "Research"],
  [0, 0.35, "low", "Not qualified"],
];

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

// `history`: [{at, overall_score, recommended_action, ...}], oldest first.
export function scoreChart(history) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i) => (history.length === 1 ? PAD.left + plotW / 2 : PAD.left + (i * plotW) / (history.length - 1));
  const y = (score) => PAD.top + (1 - score) * plotH;
  const scores = history.map((h) => h.overall_score);
  const label = history.length
    ? `Overall score over ${history.length} qualifications: ${scores.map(pct).join(", ")} (out of 100), oldest first.`
    : "No qualifications yet.";
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label });
  for (const [from, to, name, text] of ZONES) {
    chart.append(
      svg("rect", { x: PAD.left, y: y(to), width: plotW, height: y(from) - y(to), class: `zone band-${name}` }),
      svg("text", { x: W - PAD.right - 6, y: y(to) + 14, "text-anchor": "end", class: "zone-label" }, text));
  }
  for (const tick of [0, 0.35, 0.55, 0.75, 1]) {
    chart.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, pct(tick)));
  }
  if (history.length > 1) {
    const points = history.map((h, i) => `${x(i).toFixed(1)},${y(h.overall_score).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points, class: "line" }));
  }
  history.forEach((h, i) => {
    const title = `${when(h.at)}: ${pct(h.overall_score)}, ${ACTIONS[h.recommended_action] || h.recommended_action}`;
    chart.append(svg("circle", {
      cx: x(i), cy: y(h.overall_score), r: 6, class: `point band-${band(h.overall_score)}`,
      "data-score": h.overall_score, "data-qualification": h.qualification_id,
    }, svg("title", {}, title)));
  });
  const first = history[0];
  const last = history[history.length - 1];
  if (first) {
    chart.append(svg("text", { x: x(0), y: H - 12, "text-anchor": history.length > 1 ? "start" : "middle", class: "tick" }, when(first.at)));
  }
  if (history.length > 1) {
    chart.append(svg("text", { x: x(history.length - 1), y: H - 12, "text-anchor": "end", class: "tick" }, when(last.at)));
  }
  return chart;
}
