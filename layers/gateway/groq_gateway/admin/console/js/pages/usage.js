// Usage: by day or month, grouped by team, key or model, as a chart and a table; and the CSV
// for finance (one row per day, key and model: tokens, requests, cost), built in the browser.

import { get } from "../api.js";
import { fromHistory, stackedBars } from "../chart.js";
import { usageCsv, download } from "../csv.js";
import { count, el, field, show, table, usd } from "../dom.js";

const today = () => new Date().toISOString().slice(0, 10);
const monthStart = () => `${today().slice(0, 8)}01`;

export async function render(container, { busy }) {
  const results = el("div");
  const controls = el(
    "form", { class: "filters", "aria-label": "Usage period and grouping" },
    field("From (UTC day)", "start", { type: "date", value: monthStart(), required: true }),
    field("To (UTC day)", "end", { type: "date", value: today(), required: true }),
    field("By", "bucket", { options: [["day", "day"], ["month", "month"]] }),
    field("Grouped by", "group_by", { options: [["team", "team"], ["key", "key"], ["model", "model"]] }),
    el("button", { type: "submit", text: "Show" }),
    el("button", { type: "button", class: "secondary", id: "download-csv", text: "Download CSV", onclick: () => busy("Preparing the CSV", csv) }),
  );
  const period = () => Object.fromEntries(new FormData(controls));

  async function load() {
    const { start, end, bucket, group_by: by } = period();
    const history = await get("usage/history", { start, end, bucket, group_by: by });
    const rows = history.data.flatMap((b) => b.results.map((r) => ({ ...r, bucket: b.start })));
    const name = (r) => (by === "key" ? r.key_name ?? r.key_id : r[by]) ?? "(none)";
    show(
      results,
      stackedBars(`Cost per ${bucket} by ${by} (USD)`, fromHistory(history, by)),
      table(
        [
          [bucket === "day" ? "Day" : "Month from", (r) => r.bucket],
          [by[0].toUpperCase() + by.slice(1), name],
          ["Requests", (r) => count(r.requests)],
          ["Prompt tokens", (r) => count(r.prompt_tokens)],
          ["Completion tokens", (r) => count(r.completion_tokens)],
          ["Cost", (r) => usd(r.cost_usd)],
        ],
        rows,
        { caption: `${history.start} to ${history.end}`, empty: "No usage in this period." },
      ),
    );
  }

  async function csv() {
    const { start, end } = period();
    const history = await get("usage/history", { start, end, bucket: "day", group_by: "team,key,model" });
    download(`usage-${start}-to-${end}.csv`, usageCsv(history));
  }

  controls.addEventListener("submit", (event) => {
    event.preventDefault();
    busy("Loading usage", load);
  });
  show(container, el("h1", { text: "Usage" }), controls, results);
  await load();
}
