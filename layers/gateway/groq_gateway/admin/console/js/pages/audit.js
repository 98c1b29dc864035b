// Audit log: every change made through the admin API, newest first, filtered by actor, action
// and target; more pages on demand.

import { get } from "../api.js";
import { el, field, show, table, when } from "../dom.js";

const ACTIONS = [
  "api_key.created", "api_key.updated", "api_key.rotated", "api_key.secret_retired",
  "api_key.revoked", "team.created", "team.updated", "team.deleted", "admin_key.created",
  "admin_key.revoked", "iam_principal.set", "iam_principal.deleted", "price.set", "price.deleted",
];

export async function render(container, { busy }) {
  const results = el("div");
  const form = el(
    "form", { class: "filters", "aria-label": "Filter the audit log" },
    field("Actor (admin key id or IAM ARN)", "actor"),
    field("Action", "action", { options: [["", "any"], ...ACTIONS.map((a) => [a, a])] }),
    field("Target (key, team or admin key id)", "target"),
    el("button", { type: "submit", text: "Filter" }),
  );
  const entries = [];
  async function load(after) {
    const query = Object.fromEntries(new FormData(form));
    const page = await get("audit-log", { ...query, limit: 50, after });
    if (!after) entries.length = 0;
    entries.push(...page.data);
    show(
      results,
      table(
        [
          ["When", (e) => when(e.at)],
          ["Who", (e) => el("span", { title: e.actor_id, text: e.actor_name })],
          ["Action", (e) => e.action],
          ["Target", (e) => `${e.target_type} ${e.target_id}`],
          ["From", (e) => e.source_ip ?? "—"],
        ],
        entries,
        { empty: "No entries match." },
      ),
      page.has_more
        ? el("button", { type: "button", class: "secondary", text: "More", onclick: () => busy("Loading more", () => load(page.next_cursor)) })
        : null,
    );
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy("Filtering", () => load());
  });
  show(container, el("h1", { text: "Audit log" }), form, results);
  await load();
}
