// Roll-ups and time series: named flows (roll-ups, views) are streams, so pick one (or any
// stream), a number column and a range, and see it charted against the stream's time column.
import { api, enc, every } from "../api.js";
import { timeChart } from "../chart.js";
import { asTable, clear, replace, errorBox, h, isNumericType, toSeconds } from "../ui.js";

const RANGES = { "5 minutes": 300, "1 hour": 3600, "6 hours": 21600, "1 day": 86400, "7 days": 604800 };
const MAX_POINTS = 20000;

export function mount(container, initial) {
  const streamSelect = h("select", { id: "series-stream", "aria-label": "stream" });
  const columnSelect = h("select", { id: "series-column", "aria-label": "column" });
  const rangeSelect = h(
    "select",
    { id: "series-range", "aria-label": "range" },
    Object.keys(RANGES).map((r) => h("option", { value: RANGES[r] }, `last ${r}`)),
  );
  const status = h("div", { class: "status", id: "series-status" });
  const chartBox = h("div", { class: "chart", id: "series-chart" });
  container.append(
    h(
      "div",
      { class: "card" },
      h("div", { class: "row" }, h("h2", {}, "Series"), streamSelect, columnSelect, rangeSelect),
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
    if (!streams.length) {
      try {
        const [list, flows] = await Promise.all([api("/v1/streams"), api("/v1/flows").catch(() => [])]);
        const named = new Set(flows.filter((f) => f.name).map((f) => f.name));
        streams = list.sort((a, b) => (named.has(b.name) ? 1 : 0) - (named.has(a.name) ? 1 : 0));
        replace(streamSelect, 
          streams.map((s) => h("option", { value: s.name }, named.has(s.name) ? `${s.name} (flow)` : s.name)),
        );
        if (initial && streams.some((s) => s.name === initial)) streamSelect.value = initial;
        fillColumns();
      } catch (error) {
        replace(status, errorBox(error));
        return;
      }
    }
    await draw();
  }

  async function draw() {
    const s = current();
    const column = columnSelect.value;
    if (!s || !column) {
      status.textContent = s ? "This stream has no number column." : "No streams yet.";
      return;
    }
    const end = new Date();
    const start = new Date(end.getTime() - Number(rangeSelect.value) * 1000);
    let answer;
    try {
      answer = await api(
        `/v1/streams/${enc(s.name)}/records?start=${enc(start.toISOString())}&end=${enc(end.toISOString())}`,
        { accept: "application/json" },
      );
    } catch (error) {
      replace(status, errorBox(error));
      return;
    }
    const { columns, rows } = asTable(answer);
    const time = columns.indexOf(s.time_column || "");
    const value = columns.indexOf(column);
    if (time < 0 || value < 0) {
      status.textContent = "The stream has no time column to chart against.";
      return;
    }
    const points = rows
      .map((r) => [toSeconds(r[time]), r[value]])
      .filter((p) => p[0] !== null)
      .sort((a, b) => a[0] - b[0])
      .slice(-MAX_POINTS);
    status.textContent = `${points.length} points of ${s.name}.${column}`;
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
  rangeSelect.addEventListener("change", draw);
  const stop = every(5000, load);
  return () => {
    stop();
    if (chart) chart.destroy();
  };
}
