// Keys: filter by team and status; create (the secret shown once, with a copy button); pause
// and resume with a reason; rotate (the new secret once, and until when the old one works);
// revoke after a confirmation. Only what the admin's role may do is offered.

import { all, call } from "../api.js";
import { ask, el, field, secretPanel, show, table, usd, when } from "../dom.js";

const STATUSES = ["active", "paused", "revoked", "expired"];
const list = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);
const number = (text) => (text.trim() === "" ? undefined : Number(text));

async function teamIds(can) {
  return can.org ? (await all("teams")).map((team) => team.id) : can.teams;
}

export async function render(container, { can, busy }) {
  const teams = await teamIds(can);
  const announce = el("div");
  const results = el("div");
  const filters = el(
    "form", { class: "filters", "aria-label": "Filter keys" },
    field("Team", "team", { options: [["", "all"], ...teams.map((t) => [t, t])] }),
    field("Status", "status", { options: [["", "any"], ...STATUSES.map((s) => [s, s])] }),
    el("button", { type: "submit", text: "Filter" }),
  );

  async function act(label, work) {
    const answer = await busy(label, work);
    if (answer !== undefined) await busy("Refreshing keys", load);
    return answer;
  }

  function actions(key) {
    if (!can.manageKeys || key.status === "revoked") return "";
    const buttons = [];
    if (key.status === "paused") {
      buttons.push(el("button", {
        type: "button", class: "secondary", text: "Resume", "aria-label": `Resume ${key.name}`,
        onclick: async () => {
          const reason = await ask({ title: `Resume ${key.name}?`, confirm: "Resume" });
          if (reason !== null) await act("Resuming", () => call("PATCH", `api-keys/${key.id}`, { body: { status: "active" } }));
        },
      }));
    } else if (key.status === "active") {
      buttons.push(el("button", {
        type: "button", class: "secondary", text: "Pause", "aria-label": `Pause ${key.name}`,
        onclick: async () => {
          const reason = await ask({ title: `Pause ${key.name}`, text: "The key is refused within seconds; everything else is kept.", label: "Reason (kept with the key and in the audit log)", confirm: "Pause" });
          if (reason !== null) {
            await act("Pausing", () => call("PATCH", `api-keys/${key.id}`, { body: { status: "paused", paused_reason: reason || null } }));
          }
        },
      }));
    }
    buttons.push(el("button", {
      type: "button", class: "secondary", text: "Rotate", "aria-label": `Rotate ${key.name}`,
      onclick: async () => {
        if ((await ask({ title: `Rotate ${key.name}?`, text: `A new secret replaces it; the old one keeps working for its grace period (${key.grace_period_hours} h).`, confirm: "Rotate" })) === null) return;
        const rotated = await act("Rotating", () => call("POST", `api-keys/${key.id}/rotate`));
        if (rotated) {
          const old = rotated.previous_secrets.at(-1);
          show(announce, secretPanel(`New secret of ${rotated.name}`, rotated.key,
            old ? `The old secret (${old.prefix}…) works until ${when(old.grace_ends_at)} at the latest (${when(old.retire_by)}), or until its traffic stops.` : ""));
        }
      },
    }));
    buttons.push(el("button", {
      type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke ${key.name}`,
      onclick: async () => {
        const sure = await ask({ title: `Revoke ${key.name}?`, text: "A revoked key is refused for good and cannot be used again.", confirm: "Revoke for good", danger: true });
        if (sure !== null) await act("Revoking", () => call("DELETE", `api-keys/${key.id}`));
      },
    }));
    return el("div", { class: "row-actions" }, buttons);
  }

  async function load() {
    const query = Object.fromEntries(new FormData(filters));
    const keys = await all("api-keys", query);
    show(results, table(
      [
        ["Name", (k) => el("span", {}, el("strong", { text: k.name }), k.description ? el("small", { class: "block", text: k.description }) : null)],
        ["Key", (k) => el("code", { text: `${k.prefix}…` })],
        ["Team", (k) => k.team ?? "—"],
        ["Status", (k) => (k.paused_reason ? `${k.status}: ${k.paused_reason}` : k.status)],
        ["Models", (k) => (k.allowed_models ? k.allowed_models.join(", ") || "none" : "team's")],
        ["RPM / TPM", (k) => `${k.requests_per_minute ?? "—"} / ${k.tokens_per_minute ?? "—"}`],
        ["Budget", (k) => usd(k.monthly_budget_usd)],
        ["", actions],
      ],
      keys,
      { caption: `${keys.length} key${keys.length === 1 ? "" : "s"}`, empty: "No key matches." },
    ));
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    busy("Filtering", load);
  });

  let create = null;
  if (can.manageKeys) {
    create = el(
      "form", { class: "card", "aria-labelledby": "create-key-title" },
      el("h2", { id: "create-key-title", text: "Create a key" }),
      el("div", { class: "fields" },
        field("Name", "name", { required: true, maxlength: 128 }),
        field("Team", "team", { options: [...(can.org ? [["", "none"]] : []), ...teams.map((t) => [t, t])] }),
        field("Models (comma-separated; empty: the team's)", "models"),
        field("Requests per minute", "rpm", { type: "number", min: 1 }),
        field("Tokens per minute", "tpm", { type: "number", min: 1 }),
        field("Monthly budget (USD)", "budget", { type: "number", min: 0, step: "0.01" }),
        field("Description", "description", { maxlength: 1024 })),
      el("button", { type: "submit", text: "Create key" }),
    );
    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = Object.fromEntries(new FormData(create));
      const body = {
        name: form.name,
        team: form.team || undefined,
        description: form.description || undefined,
        allowed_models: form.models.trim() ? list(form.models) : undefined,
        requests_per_minute: number(form.rpm),
        tokens_per_minute: number(form.tpm),
        monthly_budget_usd: number(form.budget),
      };
      const created = await act("Creating the key", () => call("POST", "api-keys", { body }));
      if (created) {
        create.reset();
        show(announce, secretPanel(`Key ${created.name} created`, created.key,
          `Give it to the app as its OpenAI or Groq API key (id ${created.id}).`));
        announce.querySelector("button")?.focus();
      }
    });
  }

  show(container, el("h1", { text: "Keys" }), announce, filters, results, create);
  await load();
}
