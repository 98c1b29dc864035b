// A stacked bar chart drawn as SVG: one bar per bucket (day or month), one colour per series
// (team, key or model). Colours come from console.css (.series-N), labels are text nodes.

import { el, usd } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = 8;

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * buckets: [{label, values: Map(series -> number)}]; format: a number's label.
 * Returns a figure holding the chart and its legend.
 */
export function stackedBars(title, buckets, { format = usd } = {}) {
  const series = [...new Set(buckets.flatMap((b) => [...b.values.keys()]))].sort();
  const totals = buckets.map((b) => [...b.values.values()].reduce((a, v) => a + v, 0));
  const top = Math.max(...totals, 0) || 1;
  const width = 640, height = 220, left = 64, bottom = 28, right = 8, topPad = 8;
  const plot = { w: width - left - right, h: height - bottom - topPad };
  const step = plot.w / Math.max(buckets.length, 1);
  const bar = Math.max(Math.min(step * 0.7, 48), 2);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  chart.append(svg("title", {}, `${title}: ${buckets.length} buckets, total ${format(totals.reduce((a, v) => a + v, 0))}`));
  for (const fraction of [0, 0.5, 1]) {
    const y = topPad + plot.h * (1 - fraction);
    chart.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "gridline" }));
    chart.append(svg("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, format(top * fraction)));
  }
  const labelEvery = Math.ceil(buckets.length / 8);
  buckets.forEach((bucket, index) => {
    const x = left + index * step + (step - bar) / 2;
    let y = topPad + plot.h;
    series.forEach((name, s) => {
      const value = bucket.values.get(name) ?? 0;
      if (value <= 0) return;
      const h = (value / top) * plot.h;
      y -= h;
      const rect = svg("rect", { x, y, width: bar, height: Math.max(h, 0.5), class: `series-${s % COLOURS}` });
      rect.append(svg("title", {}, `${bucket.label} · ${name}: ${format(value)}`));
      chart.append(rect);
    });
    if (index % labelEvery === 0) {
      chart.append(svg("text", { x: x + bar / 2, y: height - 8, class: "axis", "text-anchor": "middle" }, bucket.label.slice(5) || bucket.label));
    }
  });
  const legend = el("ul", { class: "legend" }, series.map((name, s) =>
    el("li", {}, el("span", { class: `swatch series-${s % COLOURS}`, "aria-hidden": "true" }), name)));
  return el("figure", { class: "chart-figure" }, el("figcaption", { text: title }), chart, series.length ? legend : el("p", { class: "empty", text: "No usage in this period." }));
}

/** History buckets (the API's usage.history) as chart buckets of `measure` by `by`. */
export function fromHistory(history, by, measure = "cost_usd") {
  return history.data.map((bucket) => {
    const values = new Map();
    for (const result of bucket.results) {
      const name = (by === "key" ? result.key_name ?? result.key_id : result[by]) ?? "(none)";
      values.set(name, (values.get(name) ?? 0) + Number(result[measure]));
    }
    return { label: bucket.start, values };
  });
}
