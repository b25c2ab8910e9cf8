// Alerts: the recent alerts, then each new one as the server pushes it, filterable by stream
// and trigger (the filter applies to what is listed, so changing it needs no new request).
import { api, subscribe } from "../api.js";
import { cell, clear, replace, errorBox, h, stack } from "../ui.js";

const KEEP = 1000;

export function mount(container) {
  const stream = h("input", { id: "alert-stream", placeholder: "stream", "aria-label": "stream", list: "alert-streams" });
  const trigger = h("input", { id: "alert-trigger", placeholder: "trigger", "aria-label": "trigger", list: "alert-triggers" });
  const streams = h("datalist", { id: "alert-streams" });
  const triggers = h("datalist", { id: "alert-triggers" });
  const count = h("span", { class: "muted", id: "alert-count" });
  const list = h("div", { id: "alerts" }, h("p", { class: "muted" }, "loading…"));
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  stream.value = params.get("stream") || "";
  trigger.value = params.get("trigger") || "";
  container.append(
    h(
      "div",
      { class: "card" },
      h("div", { class: "row" }, h("h2", {}, "Alerts"), stream, trigger, streams, triggers, count),
      list,
    ),
  );

  let alerts = []; // newest first
  const fresh = new WeakSet();
  const key = (a) => `${a.stream}\u0000${a.trigger}\u0000${a.time}`;
  const seen = new Set();

  function add(items, live) {
    for (const a of items) {
      const k = key(a);
      if (seen.has(k)) continue;
      seen.add(k);
      if (live) fresh.add(a);
      alerts.push(a);
    }
    alerts.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    if (alerts.length > KEEP) alerts = alerts.slice(0, KEEP);
    draw();
  }

  function draw() {
    const s = stream.value.trim();
    const t = trigger.value.trim();
    const shown = alerts.filter((a) => (!s || a.stream === s) && (!t || a.trigger === t));
    count.textContent = `${shown.length} of ${alerts.length}`;
    replace(streams, [...new Set(alerts.map((a) => a.stream))].map((v) => h("option", { value: v })));
    replace(triggers, [...new Set(alerts.map((a) => a.trigger))].map((v) => h("option", { value: v })));
    if (!shown.length) {
      replace(list, h("p", { class: "muted" }, alerts.length ? "No alert matches." : "No alerts yet."));
      return;
    }
    replace(list, 
      h(
        "div",
        { class: "table-wrap tall" },
        h(
          "table",
          { id: "alerts-table" },
          h("thead", {}, h("tr", {}, ["time", "stream", "trigger", "value", "condition"].map((c) => h("th", {}, c)))),
          h(
            "tbody",
            {},
            shown.map((a) => {
              const row = h(
                "tr",
                { dataset: { stream: a.stream, trigger: a.trigger }, class: fresh.has(a) ? "alert-new" : null },
                cell(a.time),
                h("td", {}, h("a", { href: `#/stream/${encodeURIComponent(a.stream)}` }, a.stream)),
                cell(a.trigger),
                cell(a.value),
                h("td", { class: "wrap" }, a.condition ?? ""),
              );
              fresh.delete(a);
              return row;
            }),
          ),
        ),
      ),
    );
    list.querySelectorAll("table").forEach(stack);
  }

  stream.addEventListener("input", draw);
  trigger.addEventListener("input", draw);

  // subscribe first, so nothing fired between the list and the subscription is missed
  const subscription = subscribe("/v1/alerts/events", {
    alert(a) {
      add([a], true);
    },
  });
  api("/v1/alerts")
    .then((items) => add(items || [], false))
    .catch((error) => replace(list, errorBox(error)));

  return () => subscription.close();
}
