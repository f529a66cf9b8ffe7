/* The page's side of working offline (docs/pages.md, "Offline and notifications"): it registers
 * the event's service worker (`cfg.offline.worker`, scope: the event's page), tells it what to keep
 * (the page, the files it loaded, the basemap's tiles around the routes), keeps its last entries
 * sealed on the phone so that a page opened from that copy shows them, asks for a Background Sync
 * when an action waits, and erases all of it when access ends. */
import "./vault.js";

const vault = self.FieldopsVault;
const RECENT = 100; // entries kept for a page opened offline (the feed's own backlog)
const SAVE_AFTER_MS = 1500;
const AREA_MARGIN_DEG = 0.005; // about 500 m around the routes and places

const supported = () => "serviceWorker" in navigator && window.isSecureContext && window.caches;

/** When the page on screen was kept by the service worker (it was opened with no server to
 * reach), as milliseconds since the epoch; null for a page the server sent now. */
export function cachedAt() {
  const bar = document.getElementById("fo-state");
  const at = bar ? Date.parse(bar.getAttribute("data-cached-at") || "") : NaN;
  return isNaN(at) ? null : at;
}

let live = false;
let liveAt = null; // when this page stopped being live
let savedAt = null; // when the entries restored from the phone were last current

/** The client's state changed: remember when the page was last live. */
export function noteState(state) {
  if (live && state !== "live") liveAt = Date.now();
  live = state === "live";
}

const lastCurrent = () => (live ? Date.now() : liveAt || Date.now());

/** How old what the page shows is, when it was opened from the phone's copy and is not live:
 * the time its data was last current (ms), else null. */
export function dataSince(state) {
  const at = cachedAt();
  if (at === null || state === "live" || state === "stopped") return null;
  return Math.max(at, savedAt || 0, liveAt || 0);
}

/** The area the routes and places of the snapshot cover, with a margin: [west, south, east, north]. */
function area(snapshot, cfg) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const add = (c) => {
    if (typeof c[0] === "number") { box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]); box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]); } else c.forEach(add);
  };
  (snapshot.features || []).forEach((f) => { if (f.properties.layer === "route" || f.properties.layer === "place") add(f.geometry.coordinates); });
  if (box[0] === Infinity && cfg.center) add([cfg.center[1], cfg.center[0]]);
  if (box[0] === Infinity) return null;
  return [box[0] - AREA_MARGIN_DEG, box[1] - AREA_MARGIN_DEG, box[2] + AREA_MARGIN_DEG, box[3] + AREA_MARGIN_DEG];
}

/** The files this page loaded from the server's static files: the service worker keeps them. */
function staticFiles() {
  return performance.getEntriesByType("resource").map((r) => r.name)
    .filter((u) => { const url = new URL(u); return url.origin === location.origin && url.pathname.indexOf("/static/") === 0; });
}

/** Register the event's service worker and tell it what to keep for this page. */
export function registerWorker(cfg, snapshot) {
  if (!supported() || !cfg.offline) return Promise.resolve(null);
  return navigator.serviceWorker.register(cfg.offline.worker, { scope: cfg.offline.scope }).then(() => navigator.serviceWorker.ready).then((reg) => {
    const tiles = cfg.tiles && cfg.tiles.url && cfg.tiles.url.indexOf("/tiles/") === 0 ? Object.assign({ area: area(snapshot, cfg) }, cfg.tiles) : null;
    reg.active.postMessage({ type: "keep", event: cfg.event, page: cfg.offline.scope, files: staticFiles(), keepUntil: cfg.offline.keep_until, tiles: tiles });
    return reg;
  }).catch(() => null);
}

/** Entries kept on the phone for this page ([] if none, or it cannot open them). */
export function restoreRecent(cfg, keyPromise) {
  const name = vault.base(cfg.event, cfg.participant);
  if (!keyPromise) return Promise.resolve([]);
  return Promise.all([keyPromise, vault.get("recent", name)]).then(([key, record]) => {
    if (!record) return [];
    savedAt = record.savedAt;
    return vault.unseal(key, name, record);
  }).catch(() => []);
}

/** Keep the page's last entries on the phone, sealed, a moment after they change. */
export function keepRecent(cfg, keyPromise, entries) {
  if (!keyPromise) return () => {};
  const name = vault.base(cfg.event, cfg.participant);
  let timer = null, stopped = false;
  const save = () => {
    timer = null;
    const list = entries().slice(0, RECENT), at = lastCurrent();
    keyPromise.then((key) => vault.seal(key, name, list)).then((sealed) => {
      if (!stopped) return vault.put("recent", { name: name, iv: sealed.iv, data: sealed.data, savedAt: at });
      return null;
    }).catch(() => null);
  };
  return (stop) => {
    if (stop) { stopped = true; clearTimeout(timer); return; }
    if (timer === null) timer = setTimeout(save, SAVE_AFTER_MS);
  };
}

/** An action waits: ask the browser to wake the service worker when the network is back, also
 * if the page is closed by then (Background Sync, where the browser has it). */
export function requestSync(cfg) {
  if (!supported()) return;
  navigator.serviceWorker.ready.then((reg) => (reg.sync ? reg.sync.register("outbox:" + cfg.event) : null)).catch(() => null);
}

/** Access ended: the page's copy, the files and tiles kept for the event, the push subscription
 * and the service worker itself go. A promise, settled when all is gone. */
export function eraseOffline(cfg) {
  if (!supported() || !cfg.offline) return Promise.resolve();
  const prefix = "fieldops:" + cfg.event + ":";
  const caches_ = caches.keys().then((names) => Promise.all(names.filter((n) => n.indexOf(prefix) === 0).map((n) => caches.delete(n))));
  const worker = navigator.serviceWorker.getRegistration(cfg.offline.scope).then((reg) => {
    if (!reg) return null;
    const push = reg.pushManager ? reg.pushManager.getSubscription().then((sub) => (sub ? sub.unsubscribe() : null)) : Promise.resolve();
    return push.catch(() => null).then(() => reg.unregister());
  });
  return Promise.all([caches_, worker]).catch(() => null);
}
