// One stream: a live tail of its newest records, its filters, aggregates and triggers with
// current values, an aggregate charted over time, and forms to add and remove monitors.
import { api, enc, every, subscribe } from "../api.js";
import { timeChart, toSecondsList } from "../chart.js";
import { asTable, cell, clear, replace, errorBox, formatBytes, formatNumber, h, retentionText, stack } from "../ui.js";

const TAIL_ROWS = 50;
const CHART_WINDOW_S = 300;
const CHART_STEP = "5s";

function field(name, placeholder, attrs = {}) {
  return h("input", { name, placeholder, "aria-label": placeholder, autocomplete: "off", ...attrs });
}

export function mount(container, name) {
  if (!name) {
    location.hash = "#/overview";
    return null;
  }
  const base = `/v1/streams/${enc(name)}`;
  const info = h("div", { class: "kv", id: "stream-info" }, "…");
  const tailBox = h("div", { id: "stream-tail" }, h("p", { class: "muted" }, "waiting for records…"));
  const monitorsBox = h("div", { id: "monitors" }, "…");
  const formError = h("div", { id: "monitor-error" });
  const chartTitle = h("span", { id: "chart-title", class: "muted" }, "no aggregate yet");
  const chartBox = h("div", { class: "chart", id: "aggregate-chart" });
  const pause = h("input", { type: "checkbox", id: "tail-pause" });

  const filterForm = h(
    "form",
    { class: "inline", id: "add-filter" },
    h("b", {}, "filter"),
    field("name", "name", { required: true }),
    field("expression", "expression, e.g. x > 10", { required: true }),
    h("button", { type: "submit" }, "Add"),
  );
  const filterSelect = h("select", { name: "filter", "aria-label": "filter" }, h("option", { value: "" }, "all records"));
  const aggregateForm = h(
    "form",
    { class: "inline", id: "add-aggregate" },
    h("b", {}, "aggregate"),
    field("name", "name", { required: true }),
    filterSelect,
    field("expression", "expression, e.g. MAX(x)", { required: true }),
    h("button", { type: "submit" }, "Add"),
  );
  const triggerForm = h(
    "form",
    { class: "inline", id: "add-trigger" },
    h("b", {}, "trigger"),
    field("name", "name", { required: true }),
    field("condition", "condition, e.g. max_x > 100", { required: true }),
    field("period", "period", { value: "1s", size: 4 }),
    h("button", { type: "submit" }, "Add"),
  );

  container.append(
    h(
      "div",
      { class: "row" },
      h("h1", {}, name),
      h("a", { href: `#/series/${encodeURIComponent(name)}` }, "chart a column"),
      h("a", { href: `#/alerts?stream=${encodeURIComponent(name)}` }, "its alerts"),
    ),
    h("div", { class: "card" }, info),
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Monitors"),
        monitorsBox,
        filterForm,
        aggregateForm,
        triggerForm,
        formError,
      ),
      h("div", { class: "card" }, h("h2", {}, "Aggregate over time ", chartTitle), chartBox),
    ),
    h(
      "div",
      { class: "card" },
      h("div", { class: "row" }, h("h2", {}, "Live tail"), h("label", {}, pause, " pause")),
      tailBox,
    ),
  );

  // --- description (its counts refreshed with the monitors)
  const describe = () => api(base)
    .then((s) => {
      replace(info, 
        h("span", {}, "records ", h("b", { id: "stream-records" }, formatNumber(s.records ?? 0))),
        h("span", {}, "storage ", h("b", {}, formatBytes(s.bytes))),
        h("span", {}, "partitions ", h("b", {}, s.partitions ?? "")),
        h("span", {}, "retention ", h("b", {}, retentionText(s.retention))),
        h("span", {}, "time column ", h("b", {}, s.time_column || "(ingest time)")),
        h(
          "span",
          { class: "schema" },
          (s.schema || []).map((c) => h("code", {}, `${c.name} ${c.type}`)),
        ),
      );
    })
    .catch((error) => replace(info, errorBox(error)));
  const stopInfo = every(2000, describe);

  // --- live tail
  let tail = { columns: [], rows: [] };
  const drawTail = () => {
    if (!tail.rows.length) return;
    replace(tailBox, 
      h(
        "div",
        { class: "table-wrap tall" },
        h(
          "table",
          { id: "tail-table" },
          h("thead", {}, h("tr", {}, tail.columns.map((c) => h("th", {}, c)))),
          h("tbody", {}, tail.rows.map((row) => h("tr", {}, row.map(cell)))),
        ),
      ),
    );
  };
  // the newest records at once, then each new one as it comes
  api(`${base}/records?tail=${TAIL_ROWS}`, { accept: "application/json" })
    .then((answer) => {
      const first = asTable(answer);
      if (tail.rows.length || !first.rows.length) return;
      tail = { columns: first.columns, rows: first.rows.slice().reverse() };
      drawTail();
    })
    .catch(() => {
      // no history to show: the live records still come
    });
  const subscription = subscribe(`${base}/events`, {
    records(data) {
      if (data.columns) tail.columns = data.columns;
      // newest first
      tail.rows = [...(data.rows || []).slice().reverse(), ...tail.rows].slice(0, TAIL_ROWS);
      if (!pause.checked) drawTail();
    },
    error(error) {
      replace(tailBox, errorBox(error));
    },
  });
  pause.addEventListener("change", drawTail);

  // --- monitors
  let selected = null; // aggregate charted
  let aggregates = [];
  const history = new Map(); // aggregate name -> [[t, value]] polled here, if series is absent

  const remove = (kind, item) =>
    h(
      "button",
      {
        class: "danger",
        type: "button",
        title: `remove ${kind} ${item}`,
        dataset: { remove: `${kind}/${item}` },
        onclick: async () => {
          clear(formError);
          try {
            await api(`${base}/${kind}/${enc(item)}`, { method: "DELETE" });
            await refreshMonitors();
          } catch (error) {
            formError.append(errorBox(error));
          }
        },
      },
      "remove",
    );

  const section = (title, columns, rows) =>
    rows.length
      ? [
          h("h3", { class: "muted" }, title),
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: `${title}-table` },
              h("thead", {}, h("tr", {}, [...columns, ""].map((c) => h("th", {}, c)))),
              h("tbody", {}, rows),
            ),
          ),
        ]
      : [];

  async function refreshMonitors() {
    let m;
    try {
      m = await api(`${base}/monitors`);
    } catch (error) {
      replace(monitorsBox, errorBox(error));
      return;
    }
    const now = Date.now() / 1000;
    aggregates = m.aggregates || [];
    for (const a of aggregates) {
      const list = history.get(a.name) || [];
      if (typeof a.value === "number") list.push([now, a.value]);
      while (list.length && list[0][0] < now - CHART_WINDOW_S) list.shift();
      history.set(a.name, list);
    }
    if (selected === null || !aggregates.some((a) => a.name === selected)) {
      selected = aggregates.length ? aggregates[0].name : null;
    }
    const filters = m.filters || [];
    const current = filterSelect.value;
    replace(filterSelect, 
      h("option", { value: "" }, "all records"),
      filters.map((f) => h("option", { value: f.name }, `filter ${f.name}`)),
    );
    filterSelect.value = filters.some((f) => f.name === current) ? current : "";
    const parts = [
      ...section(
        "filters",
        ["name", "expression"],
        filters.map((f) =>
          h("tr", { dataset: { filter: f.name } }, h("td", {}, f.name), h("td", { class: "wrap" }, f.expression), h("td", {}, remove("filters", f.name))),
        ),
      ),
      ...section(
        "aggregates",
        ["name", "filter", "expression", "value"],
        aggregates.map((a) =>
          h(
            "tr",
            { dataset: { aggregate: a.name } },
            h("td", {}, h("a", { href: "#", onclick: (e) => (e.preventDefault(), (selected = a.name), drawChart()) }, a.name)),
            h("td", {}, a.filter || "all"),
            h("td", { class: "wrap" }, a.expression),
            Object.assign(cell(a.value), { className: "num value" }),
            h("td", {}, remove("aggregates", a.name)),
          ),
        ),
      ),
      ...section(
        "triggers",
        ["name", "condition", "period"],
        (m.triggers || []).map((t) =>
          h(
            "tr",
            { dataset: { trigger: t.name } },
            h("td", {}, t.name),
            h("td", { class: "wrap" }, t.condition),
            h("td", {}, t.period),
            h("td", {}, remove("triggers", t.name)),
          ),
        ),
      ),
      (m.indexes || []).length ? h("p", { class: "muted" }, `indexes: ${m.indexes.join(", ")}`) : null,
      !filters.length && !aggregates.length && !(m.triggers || []).length
        ? h("p", { class: "muted" }, "No monitors yet: add one below.")
        : null,
    ];
    replace(monitorsBox, ...parts.filter(Boolean));
    monitorsBox.querySelectorAll("table").forEach(stack);
  }

  // --- the chart of the selected aggregate: the server's series, else values polled here
  let chart = null;
  let seriesMissing = false;
  async function drawChart() {
    if (selected === null) return;
    replace(chartTitle, selected);
    let times;
    let values;
    if (!seriesMissing) {
      const end = new Date();
      const start = new Date(end.getTime() - CHART_WINDOW_S * 1000);
      try {
        const s = await api(
          `${base}/aggregates/${enc(selected)}/series?start=${enc(start.toISOString())}&end=${enc(end.toISOString())}&step=${CHART_STEP}`,
        );
        times = toSecondsList(s.times);
        values = s.values;
      } catch (error) {
        if (error.status === 404 || error.status === 405) seriesMissing = true;
      }
    }
    if (!times) {
      const list = history.get(selected) || [];
      times = list.map((p) => p[0]);
      values = list.map((p) => p[1]);
    }
    if (!chart) {
      clear(chartBox);
      chart = timeChart(chartBox, ["value"], { points: true });
    }
    chart.setData(times, [values.map((v) => (typeof v === "number" ? v : null))]);
  }

  const onSubmit = (form, kind, body) =>
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(formError);
      const data = Object.fromEntries(new FormData(form).entries());
      try {
        await api(`${base}/${kind}`, { method: "POST", body: body(data) });
        form.reset();
        await refreshMonitors();
        drawChart();
      } catch (error) {
        formError.append(errorBox(error));
      }
    });
  onSubmit(filterForm, "filters", (d) => ({ name: d.name, expression: d.expression }));
  onSubmit(aggregateForm, "aggregates", (d) => ({ name: d.name, filter: d.filter || null, expression: d.expression }));
  onSubmit(triggerForm, "triggers", (d) => ({ name: d.name, condition: d.condition, period: d.period || "1s" }));

  const stopMonitors = every(1000, refreshMonitors);
  const stopChart = every(2000, drawChart);
  return () => {
    subscription.close();
    stopMonitors();
    stopChart();
    stopInfo();
    if (chart) chart.destroy();
  };
}
