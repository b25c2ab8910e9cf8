// Small DOM helpers shared by the views: elements, tables, CSV, number and time formats.

/** h("div", {class: "x", onclick: f}, child, "text", ...) -> element */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}

export function cell(value) {
  if (value === null || value === undefined) return h("td", { class: "null" }, "NULL");
  if (typeof value === "number") return h("td", { class: "num" }, formatNumber(value));
  if (typeof value === "object") return h("td", { class: "wrap" }, JSON.stringify(value));
  return h("td", {}, String(value));
}

/** A results table; `rows` are arrays in column order. */
export function table(columns, rows, { cls } = {}) {
  return h(
    "div",
    { class: `table-wrap ${cls || ""}` },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map(cell)))),
    ),
  );
}

export function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.01
    ? value.toPrecision(6)
    : value.toFixed(3);
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export function formatDuration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

const ISO = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/;

/** Seconds since the epoch for an ISO string or an epoch number (s, ms, us or ns), else null. */
export function toSeconds(value) {
  if (typeof value === "number") {
    const magnitude = Math.abs(value);
    if (magnitude > 1e17) return value / 1e9;
    if (magnitude > 1e14) return value / 1e6;
    if (magnitude > 1e11) return value / 1e3;
    return value;
  }
  if (typeof value !== "string" || !ISO.test(value)) return null;
  // Date.parse wants at most milliseconds, and a zone; rillet's timestamps are UTC
  let text = value.replace(" ", "T").replace(/(\.\d{3})\d+/, "$1");
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(text)) text += "Z";
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms / 1000;
}

export function isTimestampType(type) {
  return typeof type === "string" && /timestamp|date|time/i.test(type);
}

export function isNumericType(type) {
  return (
    typeof type === "string" &&
    /^(tiny|small|big|hug|u)?int|integer|bigint|float|double|decimal|precise|real|numeric/i.test(type)
  );
}

function csvField(value) {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCSV(columns, rows) {
  return [columns, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

export function download(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** An error box; `error` is an ApiError or any Error. */
export function errorBox(error) {
  const kind = error.kind ? `${error.kind}: ` : "";
  return h("div", { class: "error", role: "alert" }, kind + error.message);
}

/**
 * Records from GET .../records: {columns, rows} or a list of objects -> {columns, rows}.
 */
export function asTable(answer) {
  if (answer && Array.isArray(answer.columns)) return { columns: answer.columns, rows: answer.rows || [] };
  const list = Array.isArray(answer) ? answer : answer && Array.isArray(answer.records) ? answer.records : [];
  const columns = list.length ? Object.keys(list[0]) : [];
  return { columns, rows: list.map((record) => columns.map((c) => record[c])) };
}

/** Replace the children of `element` (arrays are flattened; null and false are skipped). */
export function replace(element, ...children) {
  clear(element);
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Mark a table to show as one card per row at phone width, each cell labelled by its column. */
export function stack(tableElement) {
  const labels = [...tableElement.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const row of tableElement.querySelectorAll("tbody tr")) {
    [...row.children].forEach((td, i) => td.setAttribute("data-label", labels[i] || ""));
  }
  tableElement.classList.add("stack");
  return tableElement;
}

/** A stream's retention as words: "keep all", "7d", or "max_age 7d, max_bytes 1 GiB". */
export function retentionText(retention) {
  if (retention === null || retention === undefined || retention === "") return "keep all";
  if (typeof retention !== "object") return String(retention);
  const parts = Object.entries(retention)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k} ${/bytes/.test(k) && typeof v === "number" ? formatBytes(v) : v}`);
  return parts.length ? parts.join(", ") : "keep all";
}
