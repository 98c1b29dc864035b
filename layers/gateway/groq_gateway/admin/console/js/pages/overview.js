// Overview: month to date against the budget (the organisation's, or each of the admin's
// teams'), spend per team and per model by day, keys near their budget, and the latest audit
// entries (the admin API exposes no alert list; budget alerts go to the chat webhook).

import { get } from "../api.js";
import { stackedBars, fromHistory } from "../chart.js";
import { el, show, table, usd, when } from "../dom.js";

const NEAR = 0.8;

function meter(label, spent, budget) {
  const share = budget ? Math.min(spent / budget.monthly_budget_usd, 1) : null;
  return el(
    "div", { class: "meter card" },
    el("h2", { text: label }),
    el("p", { class: "big", text: usd(spent) }),
    budget
      ? [
          el("progress", { max: 1, value: share, "aria-label": `${label}: ${Math.round(share * 100)} % of the budget` }),
          el("p", { text: `${Math.round((spent / budget.monthly_budget_usd) * 100)} % of ${usd(budget.monthly_budget_usd)} this month (committed ${usd(budget.committed_usd)}, resets ${when(budget.resets_at)})` }),
        ]
      : el("p", { text: "No monthly budget." }),
  );
}

export async function render(container, { can }) {
  const summary = await get("usage");
  const start = `${summary.month}-01` <= summary.date ? `${summary.month}-01` : summary.date;
  const [byTeam, byModel, entries] = await Promise.all([
    get("usage/history", { start, end: summary.date, bucket: "day", group_by: "team" }),
    get("usage/history", { start, end: summary.date, bucket: "day", group_by: "model" }),
    get("audit-log", { limit: 8 }),
  ]);
  const meters = can.org
    ? [meter("Organisation, month to date", summary.organization.month_to_date.cost_usd, summary.organization.budget)]
    : summary.usage_by_team.map((team) => meter(`Team ${team.team}, month to date`, team.month_to_date.cost_usd, team.budget));
  const near = summary.usage_by_key.filter(
    (key) => key.budget && key.budget.committed_usd >= NEAR * key.budget.monthly_budget_usd,
  );
  show(
    container,
    el("h1", { text: `Overview · ${summary.month}` }),
    el("div", { class: "grid" }, meters),
    el("div", { class: "grid two" },
      stackedBars("Spend per team by day (USD)", fromHistory(byTeam, "team")),
      stackedBars("Spend per model by day (USD)", fromHistory(byModel, "model"))),
    el("h2", { text: `Keys at ${NEAR * 100} % of their budget or more` }),
    table(
      [
        ["Key", (k) => k.key_name],
        ["Team", (k) => k.team ?? "—"],
        ["Committed", (k) => usd(k.budget.committed_usd)],
        ["Budget", (k) => usd(k.budget.monthly_budget_usd)],
        ["Status", (k) => k.status],
      ],
      near,
      { empty: "No key is near its budget." },
    ),
    el("h2", { text: "Recent changes (audit log)" }),
    table(
      [
        ["When", (e) => when(e.at)],
        ["Who", (e) => e.actor_name],
        ["What", (e) => e.action],
        ["Target", (e) => e.target_id],
      ],
      entries.data,
      { empty: "No changes yet." },
    ),
  );
}
