// The usage CSV a finance team can load: one row per UTC day, key and model, built here from
// GET /openai/v1/usage/history (bucket=day, group_by=team,key,model) and saved as a file.

const COLUMNS = [
  ["date", (r, b) => b.start],
  ["team", (r) => r.team ?? ""],
  ["key_id", (r) => r.key_id ?? ""],
  ["key_name", (r) => r.key_name ?? ""],
  ["model", (r) => r.model ?? ""],
  ["requests", (r) => r.requests],
  ["prompt_tokens", (r) => r.prompt_tokens],
  ["completion_tokens", (r) => r.completion_tokens],
  ["total_tokens", (r) => r.total_tokens],
  ["audio_seconds", (r) => r.audio_seconds],
  ["cost_usd", (r) => Number(r.cost_usd).toFixed(6)],
  ["estimated_requests", (r) => r.estimated_requests],
];

/** RFC 4180: quoted when needed; a leading =, +, - or @ is prefixed so no spreadsheet runs it. */
function cell(value) {
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function usageCsv(history) {
  const lines = [COLUMNS.map(([name]) => name).join(",")];
  for (const bucket of history.data) {
    for (const result of bucket.results) lines.push(COLUMNS.map(([, value]) => cell(value(result, bucket))).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
