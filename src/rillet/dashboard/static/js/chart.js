// Charts: uPlot (global `uPlot`, vendored IIFE build) for time charts, inline SVG sparklines.
import { h, toSeconds } from "./ui.js";

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function timeLabels(plot, splits) {
  const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
  return splits.map((seconds) => {
    const d = new Date(seconds * 1000);
    if (span > 2 * 86400) return d.toLocaleDateString([], { month: "short", day: "numeric" });
    if (span > 600) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (span > 10) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    return d.toLocaleTimeString([], { minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3 });
  });
}

/**
 * A time chart in `container`. setData(times, series) takes times in seconds and one array of
 * numbers per series name. Resizes with its container; destroy() when the view goes.
 */
export function timeChart(container, names, { height = 220, points = false } = {}) {
  const axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--border"), width: 1 } };
  const palette = ["--series-1", "--series-2", "--series-3", "--series-4"].map(cssVar);
  const options = {
    width: Math.max(container.clientWidth, 200),
    height,
    series: [
      {},
      ...names.map((name, i) => ({
        label: name,
        stroke: palette[i % palette.length],
        width: 1.5,
        spanGaps: points,
        // sparse series (an aggregate's buckets, many empty) show their lone values as dots
        points: points ? { show: true, size: 5, fill: palette[i % palette.length] } : {},
      })),
    ],
    // one line per tick label: uPlot's two-line default overlaps on a narrow chart
    axes: [{ ...axis, space: 70, values: timeLabels }, axis],
    scales: { x: { time: true } },
    legend: { show: true },
  };
  const plot = new uPlot(options, [[], ...names.map(() => [])], container);
  const observer = new ResizeObserver(() => {
    const width = Math.max(container.clientWidth, 200);
    if (width !== plot.width) plot.setSize({ width, height });
  });
  observer.observe(container);
  return {
    setData(times, series) {
      plot.setData([times, ...series]);
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

/**
 * Where a result has a time column and number columns: {time, numbers} column indexes, else null.
 * Types are used where the server gives them; otherwise the first row's values decide.
 */
export function chartableColumns(columns, rows, types) {
  const sample = rows.find((row) => row.every((v) => v !== null)) || rows[0];
  if (!sample) return null;
  let time = -1;
  const numbers = [];
  columns.forEach((_, i) => {
    const value = sample[i];
    const type = types ? String(types[i] || "") : "";
    if (time < 0 && (/timestamp/i.test(type) || (typeof value === "string" && toSeconds(value) !== null))) {
      time = i;
    } else if (typeof value === "number" && !/timestamp/i.test(type)) {
      numbers.push(i);
    }
  });
  return time >= 0 && numbers.length ? { time, numbers: numbers.slice(0, 4) } : null;
}

/** Times and series of the chartable columns, sorted by time. */
export function chartData(rows, { time, numbers }) {
  const points = rows
    .map((row) => [toSeconds(row[time]), ...numbers.map((i) => row[i])])
    .filter((p) => p[0] !== null)
    .sort((a, b) => a[0] - b[0]);
  return {
    times: points.map((p) => p[0]),
    series: numbers.map((_, k) => points.map((p) => (typeof p[k + 1] === "number" ? p[k + 1] : null))),
  };
}

/** An SVG sparkline of `values` (the newest last). */
export function sparkline(values) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 24");
  svg.setAttribute("preserveAspectRatio", "none");
  if (values.length > 1) {
    const max = Math.max(...values, 1e-9) * 1.15;
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    const step = 100 / (values.length - 1);
    line.setAttribute(
      "points",
      values.map((v, i) => `${(i * step).toFixed(1)},${(22 - (v / max) * 20).toFixed(1)}`).join(" "),
    );
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
  }
  return h("span", { title: "ingest rate, last minutes" }, svg);
}

/** Seconds for a list of ISO strings or epoch numbers. */
export function toSecondsList(values) {
  return (values || []).map(toSeconds);
}
