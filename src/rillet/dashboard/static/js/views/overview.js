// Overview: the server's health and every stream with schema, count, ingest rate, storage.
import { api, every } from "../api.js";
import { sparkline } from "../chart.js";
import { clear, replace, errorBox, formatBytes, formatDuration, formatNumber, h, retentionText, stack } from "../ui.js";

function schemaCell(schema, timeColumn) {
  return h(
    "td",
    { class: "wrap" },
    h(
      "div",
      { class: "schema" },
      (schema || []).map((c) =>
        h(
          "code",
          { title: c.name === timeColumn ? "time column" : "" },
          `${c.name} ${c.type}${c.nullable === false ? " NOT NULL" : ""}${c.name === timeColumn ? " · time" : ""}`,
        ),
      ),
    ),
  );
}

export function mount(container) {
  const health = h("div", { class: "kv", id: "health" }, "…");
  const streams = h("div", { id: "streams" }, "…");
  container.append(
    h("div", { class: "card" }, h("h2", {}, "Server"), health),
    h("div", { class: "card" }, h("h2", {}, "Streams"), streams),
  );

  const stopHealth = every(2000, async () => {
    try {
      const status = await api("/healthz");
      replace(health, 
        h(
          "span",
          {},
          h("span", { class: `badge ${status.status === "ok" ? "good" : "bad"}`, id: "health-status" }, status.status),
        ),
        h("span", {}, "version ", h("b", {}, status.version)),
        h("span", {}, "up ", h("b", {}, formatDuration(status.uptime_s || 0))),
        h("span", {}, "streams ", h("b", {}, status.streams)),
      );
    } catch (error) {
      replace(health, h("span", { class: "badge bad", id: "health-status" }, "unreachable"), errorBox(error));
    }
  });

  const stopStreams = every(1000, async () => {
    let list;
    try {
      list = await api("/v1/streams");
    } catch (error) {
      replace(streams, errorBox(error));
      return;
    }
    if (!list.length) {
      replace(streams, h("p", { class: "muted" }, "No streams yet."));
      return;
    }
    const rows = list.map((s) => {
      // records/s a second apart over the last minutes, sampled by the server
      const r = s.ingest_rates || [];
      const current = r.length ? r[r.length - 1] : 0;
      return h(
        "tr",
        { dataset: { stream: s.name } },
        h("td", {}, h("a", { href: `#/stream/${encodeURIComponent(s.name)}` }, s.name)),
        schemaCell(s.schema, s.time_column),
        h("td", { class: "num records" }, formatNumber(s.records ?? 0)),
        h("td", { class: "rate" }, sparkline(r), ` ${formatNumber(Math.round(current))}/s`),
        h("td", { class: "num" }, formatBytes(s.bytes)),
        h("td", { class: "num" }, s.partitions ?? ""),
        h("td", {}, retentionText(s.retention)),
      );
    });
    replace(streams, 
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "streams-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["stream", "schema", "records", "ingest rate", "storage", "partitions", "retention"].map((c) =>
                h("th", {}, c),
              ),
            ),
          ),
          h("tbody", {}, rows),
        ),
      ),
    );
    streams.querySelectorAll("table").forEach(stack);
  });

  return () => {
    stopHealth();
    stopStreams();
  };
}
