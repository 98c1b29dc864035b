// The admin API, at ../openai/v1/ from the console (same origin, same stage), with the bearer
// admin key. A refusal becomes an ApiError carrying the API's own message.

import { adminKey } from "./session.js";

const base = new URL("../openai/v1/", document.baseURI);

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the admin API: `path` below /openai/v1/, `query` an object, `body` JSON. */
export async function call(method, path, { query, body, key = adminKey() } = {}) {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new ApiError(0, `The gateway could not be reached (${error.message}).`, "network");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error;
    throw new ApiError(response.status, error?.message ?? `HTTP ${response.status}`, error?.code ?? null);
  }
  return data;
}

export const get = (path, query) => call("GET", path, { query });

/** Every page of a list (follows next_cursor), at most `max` items. */
export async function all(path, query = {}, max = 1000) {
  const items = [];
  let after;
  do {
    const page = await get(path, { ...query, limit: 100, after });
    items.push(...page.data);
    after = page.has_more ? page.next_cursor : null;
  } while (after && items.length < max);
  return items;
}
