// The console's shell: sign in and out, the navigation a role is offered, one page at a time
// (chosen by the URL's #fragment), progress while a page loads and the API's message when a
// call fails.

import { ApiError, get } from "./api.js";
import { el, show } from "./dom.js";
import { abilities, adminKey, forget, remember } from "./session.js";
import * as audit from "./pages/audit.js";
import * as keys from "./pages/keys.js";
import * as overview from "./pages/overview.js";
import * as teams from "./pages/teams.js";
import * as usage from "./pages/usage.js";

const PAGES = [
  ["overview", "Overview", overview, () => true],
  ["keys", "Keys", keys, () => true],
  ["teams", "Teams", teams, (can) => can.seeTeams],
  ["usage", "Usage", usage, () => true],
  ["audit", "Audit log", audit, () => true],
];

const $ = (id) => document.getElementById(id);
let session = null; // {me, can}
let pending = 0;

/** Runs `work` with the progress line shown; a failure shows the API's message. */
export async function busy(label, work) {
  pending += 1;
  $("status").textContent = `${label}…`;
  $("main").setAttribute("aria-busy", "true");
  try {
    clearError();
    return await work();
  } catch (error) {
    fail(error);
    return undefined;
  } finally {
    pending -= 1;
    if (pending === 0) {
      $("status").textContent = "";
      $("main").removeAttribute("aria-busy");
    }
  }
}

export function fail(error) {
  const message = error instanceof ApiError
    ? `${error.message}${error.status ? ` (HTTP ${error.status}${error.code ? `, ${error.code}` : ""})` : ""}`
    : `Something went wrong in the console: ${error.message}`;
  const box = $("error");
  show(box, el("strong", { text: "The request failed: " }), message, " ",
    el("button", { type: "button", class: "link", onclick: clearError, text: "Dismiss" }));
  box.hidden = false;
  if (error instanceof ApiError && error.status === 401) signOut();
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

function signOut() {
  forget();
  session = null;
  $("nav").hidden = $("who").hidden = $("sign-out").hidden = true;
  show($("page"));
  $("sign-in").hidden = false;
  $("admin-key").value = "";
  $("admin-key").focus();
}

async function signIn(key) {
  remember(key);
  const me = await busy("Signing in", () => get("admin/me"));
  if (!me) {
    forget();
    return;
  }
  session = { me, can: abilities(me) };
  $("sign-in").hidden = true;
  const scope = session.can.org ? "organisation" : `teams: ${me.teams.join(", ")}`;
  $("who").textContent = `${me.name ?? me.actor} · ${me.role} (${scope})`;
  $("who").hidden = $("sign-out").hidden = false;
  show($("nav"), PAGES.filter(([, , , allowed]) => allowed(session.can)).map(([id, label]) =>
    el("a", {
      href: `#${id}`,
      "data-page": id,
      text: label,
      onclick: (event) => {
        if (location.hash === `#${id}`) {
          event.preventDefault();
          route(); // the page again: fresh figures
        }
      },
    })));
  $("nav").hidden = false;
  route();
}

function route() {
  if (!session) return;
  const wanted = location.hash.slice(1) || "overview";
  const page = PAGES.find(([id, , , allowed]) => id === wanted && allowed(session.can)) ?? PAGES[0];
  for (const link of $("nav").querySelectorAll("a")) {
    if (link.dataset.page === page[0]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = $("page");
  show(container);
  document.title = `${page[1]} · Groq gateway console`;
  const context = { ...session, busy, fail, reload: route };
  busy(`Loading ${page[1].toLowerCase()}`, () => page[2].render(container, context));
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("admin-key").value.trim();
    if (key) signIn(key);
  });
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  const key = adminKey();
  if (key) signIn(key);
  else signOut();
});
