// Roll-ups and time series: named flows (roll-ups, views) are streams, so pick one (or any
// stream), a number column, a range and a step, and see it charted against the stream's time
// column. The server buckets the rows (one SQL query), so a week of records is a few hundred
// points on the wire, not every record.
import { api, every } from "../api.js";
import { timeChart } from "../chart.js";
import { clear, errorBox, h, isNumericType, replace, toSeconds } from "../ui.js";

const RANGES = { "5 minutes": 300, "1 hour": 3600, "6 hours": 21600, "1 day": 86400, "7 days": 604800 };
const STEPS = { "1 second": 1, "10 seconds": 10, "1 minute": 60, "5 minutes": 300, "30 minutes": 1800, "1 hour": 3600 };
const FUNCTIONS = ["avg", "min", "max", "sum", "count"];

/** The step that gives a few hundred points over `range` seconds. */
export function autoStep(range) {
  const steps = Object.values(STEPS);
  return steps.find((step) => range / step <= 400) || steps[steps.length - 1];
}

const quote = (name) => `"${String(name).replaceAll('"', '""')}"`;

/** The bucketing query: `fn` of `column` per `step` seconds of [start, end). */
export function seriesSQL(stream, timeColumn, column, fn, step, start, end) {
  const t = quote(timeColumn);
  return (
    `SELECT time_bucket(INTERVAL '${step} seconds', ${t}) AS "time", ${fn}(${quote(column)}) AS ${quote(column)} ` +
    `FROM ${quote(stream)} WHERE ${t} >= TIMESTAMPTZ '${start.toISOString()}' ` +
    `AND ${t} < TIMESTAMPTZ '${end.toISOString()}' GROUP BY 1 ORDER BY 1`
  );
}

export function mount(container, initial) {
  const streamSelect = h("select", { id: "series-stream", "aria-label": "stream" });
  const columnSelect = h("select", { id: "series-column", "aria-label": "column" });
  const rangeSelect = h(
    "select",
    { id: "series-range", "aria-label": "range" },
    Object.keys(RANGES).map((r) => h("option", { value: RANGES[r] }, `last ${r}`)),
  );
  const stepSelect = h(
    "select",
    { id: "series-step", "aria-label": "step" },
    h("option", { value: "auto" }, "auto step"),
    Object.keys(STEPS).map((name) => h("option", { value: STEPS[name] }, `per ${name}`)),
  );
  const fnSelect = h(
    "select",
    { id: "series-function", "aria-label": "function" },
    FUNCTIONS.map((fn) => h("option", { value: fn }, fn)),
  );
  const status = h("div", { class: "status", id: "series-status" });
  const chartBox = h("div", { class: "chart", id: "series-chart" });
  container.append(
    h(
      "div",
      { class: "card" },
      h("div", { class: "row" }, h("h2", {}, "Series"), streamSelect, columnSelect, fnSelect, rangeSelect, stepSelect),
      status,
      chartBox,
    ),
  );

  let streams = [];
  let chart = null;
  let chartKey = "";

  const current = () => streams.find((s) => s.name === streamSelect.value);

  function fillColumns() {
    const s = current();
    const keep = columnSelect.value;
    const numbers = s ? (s.schema || []).filter((c) => isNumericType(c.type) && c.name !== s.time_column) : [];
    replace(columnSelect, numbers.map((c) => h("option", { value: c.name }, `${c.name} ${c.type}`)));
    if (numbers.some((c) => c.name === keep)) columnSelect.value = keep;
  }

  async function load() {
    // the list is read again each time: a named flow made meanwhile shows up
    try {
      const [list, flows] = await Promise.all([api("/v1/streams"), api("/v1/flows").catch(() => [])]);
      const named = new Set(flows.filter((f) => f.name).map((f) => f.name));
      const keep = streamSelect.value || initial;
      const names = list.map((s) => s.name).join();
      streams = list.sort((a, b) => (named.has(b.name) ? 1 : 0) - (named.has(a.name) ? 1 : 0));
      if (names !== streamSelect.dataset.names) {
        streamSelect.dataset.names = names;
        replace(
          streamSelect,
          streams.map((s) => h("option", { value: s.name }, named.has(s.name) ? `${s.name} (flow)` : s.name)),
        );
        if (keep && streams.some((s) => s.name === keep)) streamSelect.value = keep;
        fillColumns();
      }
    } catch (error) {
      replace(status, errorBox(error));
      return;
    }
    await draw();
  }

  async function draw() {
    const s = current();
    const column = columnSelect.value;
    if (!s || !column || !s.time_column) {
      status.textContent = !s
        ? "No streams yet."
        : !s.time_column
          ? "This stream has no time column to chart against."
          : "This stream has no number column.";
      return;
    }
    const range = Number(rangeSelect.value);
    const step = stepSelect.value === "auto" ? autoStep(range) : Number(stepSelect.value);
    const end = new Date(Date.now() + 1000);
    const start = new Date(end.getTime() - range * 1000);
    const fn = fnSelect.value;
    let answer;
    try {
      answer = await api("/v1/sql", {
        method: "POST",
        body: { sql: seriesSQL(s.name, s.time_column, column, fn, step, start, end) },
      });
    } catch (error) {
      replace(status, errorBox(error));
      return;
    }
    const points = answer.rows.map((r) => [toSeconds(r[0]), r[1]]).filter((p) => p[0] !== null);
    chartBox.points = points; // what is charted, for a look from the console (and the tests)
    status.textContent = `${points.length} points of ${s.name}.${column} (${fn} per ${step} s)`;
    const key = `${s.name}.${column}`;
    if (!chart || chartKey !== key) {
      if (chart) chart.destroy();
      clear(chartBox);
      chart = timeChart(chartBox, [column], { height: 300 });
      chartKey = key;
    }
    chart.setData(
      points.map((p) => p[0]),
      [points.map((p) => (typeof p[1] === "number" ? p[1] : null))],
    );
  }

  streamSelect.addEventListener("change", () => {
    fillColumns();
    draw();
  });
  columnSelect.addEventListener("change", draw);
  for (const select of [fnSelect, rangeSelect, stepSelect]) select.addEventListener("change", draw);
  const stop = every(5000, load);
  return () => {
    stop();
    if (chart) chart.destroy();
  };
}
