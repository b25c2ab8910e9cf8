// The one helper every view uses to talk to the server: JSON requests with the token, and
// server-sent events read through fetch (EventSource cannot send an Authorization header),
// reconnecting with Last-Event-ID across a server restart.

const TOKEN_KEY = "rillet.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let asking = null;

/** Ask the user for a token (once, however many requests were refused at the same time). */
export function askToken(reason = "The server asks for a token.") {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  document.getElementById("token-reason").textContent = reason;
  input.value = getToken() || "";
  asking = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        setToken(input.value.trim());
        asking = null;
        resolve();
      },
      { once: true },
    );
  });
  if (!dialog.open) dialog.showModal();
  return asking;
}

/** An error answer of the API: `kind` is the RilletError class, `detail` its fields. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || body.error || `HTTP ${status}`);
    this.status = status;
    this.kind = body.error || `HTTP ${status}`;
    this.detail = body.detail || {};
  }
}

function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/** Call the API; answers parsed JSON (or text), null for 204; throws ApiError. */
export async function api(path, { method = "GET", body, accept } = {}) {
  for (;;) {
    const headers = authHeaders(accept ? { Accept: accept } : {});
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401) {
      await askToken(getToken() ? "That token was refused; try another." : undefined);
      continue;
    }
    if (!response.ok) {
      let answer;
      try {
        answer = await response.json();
      } catch {
        answer = { error: `HTTP ${response.status}`, message: response.statusText };
      }
      throw new ApiError(response.status, answer);
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    return type.includes("json") ? response.json() : response.text();
  }
}

// connection state of every open subscription, for the header's "reconnecting" badge
const reconnecting = new Set();
const stateListeners = new Set();

export function onConnectionState(listener) {
  stateListeners.add(listener);
}

function setReconnecting(subscription, flag) {
  const before = reconnecting.size;
  if (flag) reconnecting.add(subscription);
  else reconnecting.delete(subscription);
  if (before !== reconnecting.size) for (const listener of stateListeners) listener(reconnecting.size);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Subscribe to an SSE endpoint. `handlers` maps event names to functions(data, id); data is
 * parsed JSON. Returns {close()}. Reconnects after `retry:` ms when the connection drops,
 * sending the last id seen so the server resumes where the page left off.
 */
export function subscribe(path, handlers, { onOpen } = {}) {
  const subscription = { closed: false, lastId: null, retry: 1000, controller: null };
  subscription.close = () => {
    subscription.closed = true;
    setReconnecting(subscription, false);
    if (subscription.controller) subscription.controller.abort();
  };
  const dispatch = (event) => {
    if (event.id !== null) subscription.lastId = event.id;
    const handler = handlers[event.name];
    if (!handler) return;
    let data = event.data;
    try {
      data = JSON.parse(event.data);
    } catch {
      // not JSON: hand the text over as it is
    }
    handler(data, event.id);
  };
  (async () => {
    while (!subscription.closed) {
      subscription.controller = new AbortController();
      try {
        const headers = authHeaders({ Accept: "text/event-stream" });
        if (subscription.lastId !== null) headers["Last-Event-ID"] = subscription.lastId;
        const response = await fetch(path, {
          headers,
          signal: subscription.controller.signal,
          cache: "no-store",
        });
        if (response.status === 401) {
          await askToken();
          continue;
        }
        if (!response.ok) {
          let answer = {};
          try {
            answer = await response.json();
          } catch {
            answer = { error: `HTTP ${response.status}` };
          }
          // a stream or flow that is gone will not come back by retrying
          if (response.status === 404 && handlers.error) {
            handlers.error(new ApiError(404, answer));
            subscription.close();
            return;
          }
          throw new ApiError(response.status, answer);
        }
        setReconnecting(subscription, false);
        if (onOpen) onOpen();
        await readEvents(response.body, subscription, dispatch);
      } catch {
        // the server went away (or refused): fall through to the retry below
      }
      if (subscription.closed) return;
      setReconnecting(subscription, true);
      await sleep(subscription.retry);
    }
  })();
  return subscription;
}

async function readEvents(body, subscription, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { name: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done || subscription.closed) return;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + (buffer.startsWith("\r\n", cut) ? 2 : 1));
      if (line === "") {
        if (event.data.length) dispatch({ ...event, data: event.data.join("\n") });
        event = { name: "message", data: [], id: null };
        if (subscription.closed) return;
        continue;
      }
      if (line.startsWith(":")) continue; // heartbeat comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? "" : line.slice(colon + 1);
      if (text.startsWith(" ")) text = text.slice(1);
      if (field === "event") event.name = text;
      else if (field === "data") event.data.push(text);
      else if (field === "id") event.id = text;
      else if (field === "retry" && /^\d+$/.test(text)) subscription.retry = Number(text);
    }
  }
}

/** Repeat `task` every `ms` until the returned stop function is called. */
export function every(ms, task) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      await task();
    } catch (error) {
      console.warn(error);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export const enc = encodeURIComponent;
