// A conversion model's charts as inline SVG (no library, no request): its calibration (the
// probability it gave beside how often those leads converted, on held-out leads and, once
// outcomes come in, on the leads it scored since) and its lift by decile.

import { svg } from "./chart.js";

const W = 480;
const H = 320;
const PAD = { left: 48, right: 16, top: 16, bottom: 44 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

const percent = (v) => `${Math.round(v * 100)}%`;

function frame(label, kind) {
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: `chart model-chart`, role: "img", "aria-label": label, "data-chart": kind });
}

function axes(chart, yMax, xLabel, yLabel, xTicks) {
  const y = (v) => PAD.top + (1 - v / yMax) * PLOT_H;
  for (const tick of [0, 0.25, 0.5, 0.75, 1].map((t) => t * yMax)) {
    chart.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, percent(tick)));
  }
  for (const [x, text] of xTicks) {
    chart.append(svg("text", { x, y: H - PAD.bottom + 16, "text-anchor": "middle", class: "tick" }, text));
  }
  chart.append(
    svg("text", { x: PAD.left + PLOT_W / 2, y: H - 6, "text-anchor": "middle", class: "axis-label" }, xLabel),
    svg("text", { x: 12, y: PAD.top + PLOT_H / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 12 ${PAD.top + PLOT_H / 2})` }, yLabel));
  return y;
}

// One series of calibration points: each bin with leads at (mean predicted, observed), its
// size growing with its leads.
function calibrationSeries(chart, rows, cls, x, y, what) {
  const filled = rows.filter((r) => r.leads && typeof r.predicted === "number" && typeof r.observed === "number");
  if (filled.length > 1) {
    const points = filled.map((r) => `${x(r.predicted).toFixed(1)},${y(r.observed).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points, class: `line ${cls}` }));
  }
  const most = Math.max(1, ...filled.map((r) => r.leads));
  for (const r of filled) {
    chart.append(svg("circle", {
      cx: x(r.predicted), cy: y(r.observed), r: 3 + 5 * Math.sqrt(r.leads / most), class: `point ${cls}`,
      "data-bin": r.bin, "data-predicted": r.predicted, "data-observed": r.observed,
    }, svg("title", {}, `${what}, ${r.bin}: ${r.leads.toLocaleString()} leads, predicted ${percent(r.predicted)}, converted ${percent(r.observed)}`)));
  }
  return filled;
}

// `table`: the report's calibration_table; `since`: the drift's, or null.
export function calibrationChart(table, since) {
  const x = (v) => PAD.left + v * PLOT_W;
  const held = table.filter((r) => r.leads);
  const parts = held.map((r) => `${r.bin}: predicted ${percent(r.predicted)}, converted ${percent(r.observed)}`);
  const chart = frame(`Calibration on held-out leads: ${parts.join("; ")}.`, "calibration");
  const y = axes(chart, 1, "Predicted probability", "Converted", [0, 0.25, 0.5, 0.75, 1].map((t) => [x(t), percent(t)]));
  chart.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "diagonal" },
    svg("title", {}, "Where a perfectly calibrated model's points lie")));
  calibrationSeries(chart, table, "held-out", x, y, "Held out");
  const legend = [["held-out", "held-out leads"]];
  if (since && since.some((r) => r.leads)) {
    calibrationSeries(chart, since, "since", x, y, "Since");
    legend.push(["since", "leads scored since, with an outcome"]);
  }
  legend.forEach(([cls, text], i) => {
    const top = PAD.top + 8 + i * 18;
    chart.append(
      svg("circle", { cx: PAD.left + 12, cy: top, r: 5, class: `point ${cls}` }),
      svg("text", { x: PAD.left + 22, y: top + 4, class: "tick" }, text));
  });
  return chart;
}

// `deciles`: the report's conversion by decile, highest probability first.
export function liftChart(deciles) {
  const rates = deciles.map((d) => d.conversion || 0);
  const top = Math.min(1, Math.max(0.1, ...rates) * 1.15);
  const slot = PLOT_W / Math.max(1, deciles.length);
  const base = deciles.reduce((sum, d) => sum + d.conversion * d.leads, 0) / Math.max(1, deciles.reduce((sum, d) => sum + d.leads, 0));
  const label = `Conversion by decile, highest probability first: ${deciles.map((d) => `${d.decile}: ${percent(d.conversion)}${d.lift === null ? "" : ` (lift ${d.lift})`}`).join("; ")}. Overall ${percent(base)}.`;
  const chart = frame(label, "lift");
  const y = axes(chart, top, "Decile (1 = highest probability)", "Converted",
    deciles.map((d, i) => [PAD.left + (i + 0.5) * slot, String(d.decile)]));
  deciles.forEach((d, i) => {
    const height = PAD.top + PLOT_H - y(d.conversion || 0);
    chart.append(svg("rect", {
      x: PAD.left + i * slot + slot * 0.15, y: y(d.conversion || 0), width: slot * 0.7, height,
      class: "bar-decile", "data-decile": d.decile, "data-lift": d.lift ?? "",
    }, svg("title", {}, `Decile ${d.decile}: ${d.leads.toLocaleString()} leads, ${percent(d.conversion)} converted, lift ${d.lift ?? "-"}`)));
    if (d.lift !== null && d.lift !== undefined) {
      chart.append(svg("text", { x: PAD.left + (i + 0.5) * slot, y: y(d.conversion || 0) - 4, "text-anchor": "middle", class: "tick" }, `×${d.lift}`));
    }
  });
  chart.append(
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(base), y2: y(base), class: "base-rate" }),
    svg("text", { x: W - PAD.right - 4, y: y(base) - 4, "text-anchor": "end", class: "tick" }, `overall ${percent(base)}`));
  return chart;
}
