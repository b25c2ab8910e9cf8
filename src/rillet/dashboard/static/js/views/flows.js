// Flows: the flows (the shell's \f) with their state (a failed named flow's error under
// it), lag and throughput; cancel one.
import { api, enc, every } from "../api.js";
import { cell, clear, replace, errorBox, formatNumber, h, stack } from "../ui.js";

export function mount(container) {
  const box = h("div", { id: "flows" }, "…");
  const errors = h("div", { id: "flow-error" });
  container.append(h("div", { class: "card" }, h("h2", {}, "Flows"), box, errors));

  async function refresh() {
    let flows;
    try {
      flows = await api("/v1/flows");
    } catch (error) {
      replace(box, errorBox(error));
      return;
    }
    if (!flows.length) {
      replace(box, h("p", { class: "muted" }, "No flows running."));
      return;
    }
    replace(box, 
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "flows-table" },
          h(
            "thead",
            {},
            h("tr", {}, ["id", "name", "state", "query", "input", "watchers", "rows out", "lag", "rows/s", ""].map((c) => h("th", {}, c))),
          ),
          h(
            "tbody",
            {},
            flows.map((f) =>
              h(
                "tr",
                { dataset: { flow: f.id } },
                cell(f.id),
                h("td", {}, f.name ? h("a", { href: `#/stream/${encodeURIComponent(f.name)}` }, f.name) : ""),
                h(
                  "td",
                  { class: "wrap flow-state", dataset: { state: f.state || "running" } },
                  f.state || "running",
                  f.error ? h("div", { class: "muted flow-error" }, f.error) : "",
                ),
                h("td", { class: "wrap" }, h("code", {}, f.query)),
                cell(f.stream),
                h("td", {}, f.watched ? "watched" : "no"),
                cell(f.records_out),
                f.lag === null || f.lag === undefined ? h("td", { class: "muted" }, "–") : cell(f.lag),
                h("td", { class: "num" }, typeof f.rate === "number" ? formatNumber(Math.round(f.rate * 10) / 10) : ""),
                stopCell(f),
              ),
            ),
          ),
        ),
      ),
    );
    box.querySelectorAll("table").forEach(stack);
  }

  // A flow's cancel button; a named flow (CREATE STREAM ... AS SELECT) resumes at the next
  // open, so the server refuses to cancel it: DROP STREAM is its way out.
  function stopCell(f) {
    if (f.name && !f.attached) {
      return h("td", { class: "muted" }, "DROP STREAM removes it");
    }
    const cancel = async () => {
      clear(errors);
      try {
        await api(`/v1/flows/${enc(f.id)}`, { method: "DELETE" });
        await refresh();
      } catch (error) {
        errors.append(errorBox(error));
      }
    };
    return h("td", {}, h("button", { class: "danger", type: "button", onclick: cancel }, "cancel"));
  }

  return every(1000, refresh);
}
