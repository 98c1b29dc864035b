// Building the page: every value from the API is set with textContent (names and descriptions
// are user input), never parsed as markup.

/** An element with attributes (on* handlers as functions) and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A table from rows: columns are [heading, row => cell (text or a node)]. */
export function table(columns, rows, { caption, empty = "Nothing yet." } = {}) {
  if (rows.length === 0) return el("p", { class: "empty", text: empty });
  return el(
    "div", { class: "table-wrap" },
    el(
      "table", {},
      caption ? el("caption", { text: caption }) : null,
      el("thead", {}, el("tr", {}, columns.map(([heading]) => el("th", { scope: "col", text: heading })))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([heading, cell]) =>
        el("td", { "data-label": heading || null }, cell(row) ?? ""))))),
    ),
  );
}

let fields = 0;

/** A labelled form field (ids unique on the page); `options` makes it a select. */
export function field(label, name, { type = "text", value = "", options, required, hint, ...rest } = {}) {
  fields += 1;
  const id = `field-${name}-${fields}`;
  const control = options
    ? el("select", { id, name, ...rest }, options.map(([v, text]) => el("option", { value: v, selected: v === value, text })))
    : el("input", { id, name, type, value, required, ...rest });
  return el("div", { class: "field" }, el("label", { for: id, text: label }), control, hint ? el("small", { text: hint }) : null);
}

export const usd = (value) =>
  value === null || value === undefined ? "—" : `$${Number(value).toFixed(Number(value) !== 0 && Math.abs(value) < 0.01 ? 6 : 2)}`;
export const count = (value) => (value === null || value === undefined ? "—" : Number(value).toLocaleString("en-US"));
export const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "—");

/** Replaces a container's content. */
export function show(container, ...children) {
  container.replaceChildren();
  append(container, children);
}

/**
 * A modal question: resolves to the text typed (or "" without `label`) on confirm, null on
 * cancel or Escape. Keyboard: focus starts in the dialog, Escape cancels.
 */
export function ask({ title, text, label, confirm = "OK", danger = false }) {
  return new Promise((resolve) => {
    const input = label ? el("input", { id: "dialog-input", type: "text", maxlength: 256 }) : null;
    const dialog = el(
      "dialog", { class: "dialog", "aria-labelledby": "dialog-title" },
      el(
        "form", { method: "dialog" },
        el("h2", { id: "dialog-title", text: title }),
        text ? el("p", { text }) : null,
        input ? el("div", { class: "field" }, el("label", { for: "dialog-input", text: label }), input) : null,
        el(
          "div", { class: "actions" },
          el("button", { type: "submit", value: "ok", class: danger ? "danger" : "", text: confirm }),
          el("button", { type: "submit", value: "cancel", class: "secondary", formnovalidate: true, text: "Cancel" }),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      const confirmed = dialog.returnValue === "ok";
      dialog.remove();
      resolve(confirmed ? (input ? input.value.trim() : "") : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input ?? dialog.querySelector("button")).focus();
  });
}

/** A secret shown this once, with a copy button. */
export function secretPanel(heading, secret, ...notes) {
  const value = el("code", { class: "secret", "data-secret": "", text: secret });
  const status = el("span", { class: "copied", role: "status" });
  const copy = el("button", {
    type: "button",
    class: "secondary",
    text: "Copy",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        status.textContent = "Copied.";
      } catch {
        getSelection().selectAllChildren(value);
        status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    },
  });
  return el(
    "section", { class: "card secret-panel", "aria-live": "polite" },
    el("h2", { text: heading }),
    el("p", { class: "warning", text: "Shown this once: the gateway keeps only its hash. Copy it now." }),
    el("div", { class: "secret-row" }, value, copy, status),
    notes.map((note) => el("p", { text: note })),
  );
}
