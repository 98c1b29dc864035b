// Teams (organisation-wide admins; only a full admin may change them): per-minute limits,
// monthly budgets, model allowlists and aliases, which bound every key of the team.

import { all, call } from "../api.js";
import { el, field, show, table, usd } from "../dom.js";

const list = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);
const limit = (text) => (text.trim() === "" ? null : Number(text));

/** "requested=forwarded" pairs, comma-separated, as the API's model_aliases map. */
function aliases(text) {
  return Object.fromEntries(list(text).map((pair) => pair.split("=").map((part) => part.trim())));
}

export async function render(container, { can, busy }) {
  const results = el("div");
  const editor = el("div");

  function form(team) {
    const editing = Boolean(team);
    const node = el(
      "form", { class: "card", "aria-labelledby": "team-form-title" },
      el("h2", { id: "team-form-title", text: editing ? `Change team ${team.id}` : "Create a team" }),
      el("div", { class: "fields" },
        editing ? null : field("Id (lowercase letters, digits, dashes)", "id", { required: true, pattern: "[a-z0-9][a-z0-9\\-]{0,62}" }),
        field("Description", "description", { value: team?.description ?? "" }),
        field("Models (comma-separated; empty: every model)", "models", { value: team?.allowed_models?.join(", ") ?? "" }),
        field("Aliases (requested=forwarded, comma-separated)", "aliases",
          { value: Object.entries(team?.model_aliases ?? {}).map(([a, b]) => `${a}=${b}`).join(", ") }),
        field("Requests per minute", "rpm", { type: "number", min: 1, value: team?.requests_per_minute ?? "" }),
        field("Tokens per minute", "tpm", { type: "number", min: 1, value: team?.tokens_per_minute ?? "" }),
        field("Monthly budget (USD)", "budget", { type: "number", min: 0, step: "0.01", value: team?.monthly_budget_usd ?? "" })),
      el("div", { class: "actions" },
        el("button", { type: "submit", text: editing ? "Save" : "Create team" }),
        editing ? el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => show(editor, form()) }) : null),
    );
    node.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(node));
      const body = {
        description: values.description,
        allowed_models: values.models.trim() ? list(values.models) : null,
        model_aliases: aliases(values.aliases),
        requests_per_minute: limit(values.rpm),
        tokens_per_minute: limit(values.tpm),
        monthly_budget_usd: limit(values.budget),
      };
      const saved = await busy(editing ? "Saving the team" : "Creating the team", () =>
        editing ? call("PATCH", `teams/${team.id}`, { body }) : call("POST", "teams", { body: { id: values.id, ...body } }));
      if (saved) {
        show(editor, form());
        await busy("Refreshing teams", load);
      }
    });
    return node;
  }

  async function load() {
    const teams = await all("teams");
    show(results, table(
      [
        ["Team", (t) => el("span", {}, el("strong", { text: t.id }), t.description ? el("small", { class: "block", text: t.description }) : null)],
        ["Status", (t) => t.status],
        ["Models", (t) => (t.allowed_models ? t.allowed_models.join(", ") || "none" : "every model")],
        ["Aliases", (t) => Object.entries(t.model_aliases).map(([a, b]) => `${a} → ${b}`).join(", ") || "—"],
        ["RPM / TPM", (t) => `${t.requests_per_minute ?? "—"} / ${t.tokens_per_minute ?? "—"}`],
        ["Budget", (t) => usd(t.monthly_budget_usd)],
        ["", (t) => (can.manageTeams
          ? el("button", { type: "button", class: "secondary", text: "Change", "aria-label": `Change team ${t.id}`,
              onclick: () => { show(editor, form(t)); editor.querySelector("input")?.focus(); } })
          : "")],
      ],
      teams,
      { caption: `${teams.length} team${teams.length === 1 ? "" : "s"}`, empty: "No team yet." },
    ));
  }

  if (can.manageTeams) show(editor, form());
  show(container, el("h1", { text: "Teams" }), results, editor);
  await load();
}
