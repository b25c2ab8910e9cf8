// Query console: CodeMirror with SQL highlighting; SQL via /v1/sql, rtsql via /v1/rtsql; errors
// marked at their line and column; results as a table and (time + numbers) a chart; a SELECT
// flow streams its rows in live; CSV export of what is shown.
import {
  Compartment,
  EditorState,
  EditorView,
  PostgreSQL,
  basicSetup,
  keymap,
  lintGutter,
  oneDark,
  setDiagnostics,
  sql,
} from "../../vendor/codemirror.js";
import { api, enc, subscribe } from "../api.js";
import { chartData, chartableColumns, timeChart } from "../chart.js";
import { clear, replace, download, errorBox, h, table, toCSV } from "../ui.js";

const MAX_ROWS = 5000;
const DOC_KEY = "rillet.query";
const MODE_KEY = "rillet.query.mode";

/** Document offset of a 1-based line and column, clamped to the document. */
export function offsetAt(doc, line, col) {
  const l = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
  return Math.min(l.from + Math.max((col || 1) - 1, 0), l.to);
}

export function mount(container) {
  const mode = h(
    "select",
    { id: "query-mode", "aria-label": "language" },
    h("option", { value: "sql" }, "SQL (ad hoc, /v1/sql)"),
    h("option", { value: "rtsql" }, "rtsql (statements and flows)"),
  );
  mode.value = sessionStorage.getItem(MODE_KEY) || "sql";
  const mac = /Mac|iPhone|iPad/.test(navigator.platform);
  const runButton = h(
    "button",
    { class: "primary", id: "query-run", type: "button", title: mac ? "⌘ Enter" : "Ctrl+Enter" },
    "Run",
  );
  const stopButton = h("button", { id: "query-stop", type: "button", hidden: true }, "Cancel flow");
  const csvButton = h("button", { id: "query-csv", type: "button", disabled: true }, "Export CSV");
  const editorBox = h("div", { class: "editor", id: "query-editor" });
  const status = h("div", { class: "status", id: "query-status" });
  const errors = h("div", { id: "query-error-box" });
  const chartBox = h("div", { class: "chart", id: "query-chart" });
  const results = h("div", { id: "query-results" });
  container.append(
    h(
      "div",
      { class: "card" },
      h("div", { class: "row" }, h("h2", {}, "Query"), mode, runButton, stopButton, csvButton),
      editorBox,
      status,
      errors,
    ),
    h("div", { class: "card" }, chartBox, results),
  );

  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const theme = new Compartment();
  const view = new EditorView({
    parent: editorBox,
    state: EditorState.create({
      doc: sessionStorage.getItem(DOC_KEY) ?? "SELECT 1 AS one",
      extensions: [
        keymap.of([{ key: "Mod-Enter", run: () => (run(), true) }]),
        basicSetup,
        sql({ dialect: PostgreSQL, upperCaseKeywords: true }),
        lintGutter(),
        theme.of(dark.matches ? oneDark : []),
        EditorView.lineWrapping,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) sessionStorage.setItem(DOC_KEY, update.state.doc.toString());
        }),
      ],
    }),
  });
  const onScheme = () => view.dispatch({ effects: theme.reconfigure(dark.matches ? oneDark : []) });
  dark.addEventListener("change", onScheme);
  // for the tests and for people scripting the page from the console
  container.editor = view;

  let shown = { columns: [], rows: [], types: null };
  let chart = null;
  let flow = null; // {id, subscription}
  let pending = 0;

  function stopWatching() {
    if (flow) flow.subscription.close();
    flow = null;
    stopButton.hidden = true;
  }

  function render() {
    pending = 0;
    const { columns, rows, types } = shown;
    // a flow's newest rows first; a query's rows in the order it asked for
    const visible = shown.live ? rows.slice(-1000).reverse() : rows.slice(0, 1000);
    replace(results, table(columns, visible, { cls: "tall" }));
    results.dataset.rows = String(rows.length);
    csvButton.disabled = !columns.length;
    const plan = chartableColumns(columns, rows, types);
    if (!plan) {
      if (chart) chart.destroy();
      chart = null;
      chartBox.hidden = true;
      return;
    }
    chartBox.hidden = false;
    const names = plan.numbers.map((i) => columns[i]);
    if (!chart || chart.names.join() !== names.join()) {
      if (chart) chart.destroy();
      clear(chartBox);
      chart = timeChart(chartBox, names);
      chart.names = names;
    }
    const data = chartData(rows, plan);
    chart.setData(data.times, data.series);
  }

  function scheduleRender() {
    if (!pending) pending = requestAnimationFrame(render);
  }

  function showError(error) {
    const { line, col } = error.detail || {};
    const box = errorBox(error);
    box.id = "query-error";
    if (line) {
      box.dataset.line = line;
      box.dataset.col = col || 1;
      box.prepend(`at line ${line}, column ${col || 1}: `);
      const doc = view.state.doc;
      const from = offsetAt(doc, line, col);
      const word = doc.sliceString(from, Math.min(from + 64, doc.line(doc.lineAt(from).number).to));
      const length = Math.max((word.match(/^\w+/) || [""])[0].length, 1);
      view.dispatch(
        setDiagnostics(view.state, [
          { from, to: Math.min(from + length, doc.length), severity: "error", message: error.message },
        ]),
      );
      view.dispatch({ selection: { anchor: from }, scrollIntoView: true });
    }
    replace(errors, box);
  }

  async function run() {
    stopWatching();
    clear(errors);
    view.dispatch(setDiagnostics(view.state, []));
    const text = view.state.doc.toString().trim();
    if (!text) return;
    status.textContent = "running…";
    const started = performance.now();
    const elapsed = () => `${Math.round(performance.now() - started)} ms`;
    try {
      if (mode.value === "sql") {
        const answer = await api("/v1/sql", { method: "POST", body: { sql: text } });
        shown = { columns: answer.columns, rows: answer.rows, types: answer.types };
        status.textContent = `${answer.rows.length} rows · ${elapsed()}`;
        render();
        return;
      }
      const answer = await api("/v1/rtsql", { method: "POST", body: { statement: text } });
      if (answer.flow !== undefined && answer.flow !== null) {
        watch(answer);
        return;
      }
      status.textContent = `${answer.kind} · ${elapsed()}`;
      if (answer.columns) {
        shown = { columns: answer.columns, rows: answer.rows || [], types: null };
        render();
      } else {
        shown = { columns: [], rows: [], types: null };
        render();
        results.append(h("pre", { class: "text" }, answer.text));
      }
    } catch (error) {
      status.textContent = `failed · ${elapsed()}`;
      showError(error);
    }
  }

  function watch(answer) {
    shown = { columns: answer.columns || [], rows: [], types: null, live: true };
    render();
    const id = answer.flow;
    status.textContent = `flow ${id} running: rows arrive live`;
    status.dataset.flow = id;
    stopButton.hidden = false;
    const subscription = subscribe(`/v1/flows/${enc(id)}/events`, {
      rows(data) {
        if (data.columns && data.columns.length) shown.columns = data.columns;
        shown.rows.push(...(data.rows || []));
        if (shown.rows.length > MAX_ROWS) shown.rows.splice(0, shown.rows.length - MAX_ROWS);
        status.textContent = `flow ${id}: ${shown.rows.length} rows (live)`;
        scheduleRender();
      },
      end() {
        status.textContent = `flow ${id} ended: ${shown.rows.length} rows`;
        stopWatching();
      },
      error(error) {
        showError(error);
        stopWatching();
      },
    });
    flow = { id, subscription };
  }

  runButton.addEventListener("click", run);
  mode.addEventListener("change", () => sessionStorage.setItem(MODE_KEY, mode.value));
  stopButton.addEventListener("click", async () => {
    const id = flow && flow.id;
    stopWatching();
    if (id === null || id === undefined) return;
    try {
      await api(`/v1/flows/${enc(id)}`, { method: "DELETE" });
      status.textContent = `flow ${id} cancelled`;
    } catch (error) {
      showError(error);
    }
  });
  csvButton.addEventListener("click", () => download("rillet-result.csv", toCSV(shown.columns, shown.rows)));

  return () => {
    stopWatching();
    dark.removeEventListener("change", onScheme);
    if (chart) chart.destroy();
    view.destroy();
  };
}
