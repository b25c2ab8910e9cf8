// The page's router: #/view/arg -> a view module's mount(container, arg), which answers a
// function that stops the view's timers and subscriptions when another view is shown.
import { askToken, onConnectionState } from "./api.js";
import { clear, errorBox } from "./ui.js";

const VIEWS = {
  overview: () => import("./views/overview.js"),
  stream: () => import("./views/stream.js"),
  alerts: () => import("./views/alerts.js"),
  query: () => import("./views/query.js"),
  flows: () => import("./views/flows.js"),
  series: () => import("./views/series.js"),
};

const container = document.getElementById("view");
let stop = null;
let generation = 0;

async function route() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("?")[0].split("/");
  const view = VIEWS[name] ? name : "overview";
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  const mine = ++generation;
  if (stop) stop();
  stop = null;
  clear(container);
  document.body.dataset.view = view;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.view === view);
  }
  try {
    const module = await VIEWS[view]();
    if (mine !== generation) return;
    stop = module.mount(container, arg) || null;
  } catch (error) {
    container.append(errorBox(error));
  }
}

onConnectionState((count) => {
  document.getElementById("conn-badge").hidden = count === 0;
});
document.getElementById("token-button").addEventListener("click", () => askToken("Set the API token."));
window.addEventListener("hashchange", route);
route();
