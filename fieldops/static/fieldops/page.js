/* What every page does the same way: the connection bar, toasts, the final notice when access
 * ends, and `boot`, which starts the socket. Also `window.Fieldops`, a small facade over the
 * modules for whoever drives a page from outside (the browser tests); no page script uses it. */
import { Client } from "./client.js";
import { describe } from "./feed.js";
import { dataSince, noteState } from "./offline.js";
import { ago, config, csrfToken, fmt, label, plural, uuid4 } from "./util.js";

/** A short message under the connection bar; refusals stay until tapped. */
export function toast(text, level) {
  const box = document.getElementById("fo-toasts");
  if (!box) return;
  const node = document.createElement("div");
  node.className = "fo-toast fo-toast-" + (level || "info");
  node.setAttribute("role", level === "danger" ? "alert" : "status");
  node.textContent = text;
  node.addEventListener("click", () => node.remove());
  box.appendChild(node);
  if (level !== "danger") setTimeout(() => node.remove(), 6000);
}

let shownState = null; // the last arguments of showState: the bar is redrawn as time passes

/** The connection bar: live / reconnecting / offline, and what waits to be sent. A page opened
 * from the phone's copy, and not live, says how old its data is. */
function showState(cfg, state, pending, message) {
  const bar = document.getElementById("fo-state");
  if (!bar) return;
  shownState = [cfg, state, pending, message];
  noteState(state);
  const s = cfg.strings, since = dataSince(state);
  let text = { live: s.live, connecting: s.connecting, reconnecting: s.reconnecting, offline: s.offline, stopped: message || s.offline }[state] || state;
  if (since !== null) {
    state = "offline";
    text = fmt(s.offline_since, { t: ago(new Date(since).toISOString(), s) });
  }
  if (pending && state !== "stopped") text += " · " + plural(s.waiting, pending);
  bar.textContent = text;
  bar.className = "fo-state fo-state-" + state;
  bar.setAttribute("data-state", state);
  bar.setAttribute("data-pending", String(pending));
}

const CONTROLS = "input, select, textarea, button";

/** Disable every control under `root`, but the language switch (it only reloads the page). */
function disableControls(root) {
  const found = root.matches && root.matches(CONTROLS) ? [root] : [];
  found.concat(Array.from(root.querySelectorAll(CONTROLS))).forEach((c) => { if (!c.closest(".fo-lang")) c.disabled = true; });
}

/** The notice that access has ended, at the top of the page, and a page that can do nothing
 * more: its controls are disabled, also those a renderer adds later. */
function finalNotice(text, cfg) {
  let box = document.getElementById("fo-final");
  if (!box) {
    box = document.createElement("div");
    box.id = "fo-final";
    box.className = "fo-final";
    box.setAttribute("role", "alert");
    const bar = document.getElementById("fo-state");
    if (bar && bar.parentNode) bar.parentNode.insertBefore(box, bar.nextSibling);
    else document.body.insertBefore(box, document.body.firstChild);
  }
  box.textContent = "";
  [text, cfg.strings.wiped].forEach((line) => { const p = document.createElement("p"); p.textContent = line; box.appendChild(p); });
  document.body.classList.add("fo-stopped");
  disableControls(document.body);
  new MutationObserver((changes) => {
    changes.forEach((change) => change.addedNodes.forEach((node) => { if (node.nodeType === 1) disableControls(node); }));
  }).observe(document.body, { childList: true, subtree: true });
  window.scrollTo(0, 0);
}

/** Start a page's socket: `handlers.entry` gets every journal entry, with `entry.replayed` true
 * for history the page's snapshot already accounts for; refusals are toasted here. */
export function boot(handlers) {
  const cfg = config();
  const client = new Client(cfg, {
    state(state, pending, message) { showState(cfg, state, pending, message); if (handlers.state) handlers.state(state, pending); },
    hello: handlers.hello,
    replayDone: handlers.replayDone,
    entry: handlers.entry,
    ack(item, ack) { if (handlers.ack) handlers.ack(item, ack); },
    error(frame, item) {
      let text = cfg.strings.refused + ": " + frame.message;
      (frame.fields || []).forEach((f) => { text += " (" + f.field + ": " + f.message + ")"; });
      toast(text, "danger");
      if (handlers.error) handlers.error(frame, item);
    },
    stopped(message, code) {
      finalNotice(message, cfg);
      if (handlers.stopped) handlers.stopped(message, code);
    },
  });
  client.start();
  setInterval(() => { if (shownState) showState.apply(null, shownState); }, 30000);
  expose({ client: client });
  return client;
}

/** Hand what a page holds to `window.FO`, where tests and a debugging person look. */
export function expose(parts) {
  window.FO = Object.assign(window.FO || {}, parts);
}

window.Fieldops = { Client, ago, config, csrfToken, describe, label, plural, toast, uuid4 };
