/* Web Push on a page (docs/protocol.md, "Web Push"): a participant turns notifications on or off
 * for this phone (`#push-optin`); the subscription is made with the server's key (`cfg.push.key`,
 * none: nothing is offered) and given to the server, and made again when that key changes. What a
 * notification shows is the service worker's business (sw.js): the server's generic text only. */
import { toast } from "./page.js";
import { api } from "./util.js";
import "./vault.js";

const keyBytes = self.FieldopsVault.bytes;

function sameKey(sub, key) {
  const had = sub.options && sub.options.applicationServerKey;
  if (!had) return true; // the browser does not say: keep it
  const a = new Uint8Array(had), b = keyBytes(key);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const quiet = { done() {}, refused() {}, offline() {} };

/** Subscribe this browser with the server's key and tell the server; resolves with the
 * subscription, or null when the person or the browser refused. */
function subscribe(cfg, reg) {
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(cfg.push.key) })
    .then((sub) => new Promise((resolve) => {
      const done = () => resolve(sub);
      api("/push-subscriptions", { body: sub.toJSON(), done: done, refused: (m) => { toast(m, "danger"); resolve(null); }, offline: () => resolve(null) });
    }))
    .catch(() => null);
}

function unsubscribe(sub) {
  api("/push-subscriptions", Object.assign({ method: "DELETE", body: { endpoint: sub.endpoint } }, quiet));
  return sub.unsubscribe().catch(() => null);
}

/** The opt-in button, once the service worker `reg` is ready. */
export function wirePush(cfg, reg) {
  const button = document.getElementById("push-optin");
  if (!button || !cfg.push || !cfg.push.key || !reg.pushManager || !window.Notification) return;
  const s = cfg.strings;
  let current = null;
  const show = () => { button.textContent = current ? s.push_off : s.push_on; button.hidden = false; };
  reg.pushManager.getSubscription().then((sub) => {
    if (sub && !sameKey(sub, cfg.push.key)) { // the server's key changed: subscribe again with it
      return unsubscribe(sub).then(() => subscribe(cfg, reg));
    }
    return sub;
  }).then((sub) => { current = sub; show(); }).catch(() => null);
  button.addEventListener("click", () => {
    button.disabled = true;
    const done = () => { button.disabled = false; show(); };
    if (current) {
      unsubscribe(current).then(() => { current = null; toast(s.push_done_off, "info"); done(); });
      return;
    }
    Notification.requestPermission().then((permission) => {
      if (permission !== "granted") { toast(s.push_blocked, "warning"); return null; }
      return subscribe(cfg, reg).then((sub) => {
        current = sub;
        if (sub) toast(cfg.push.enabled ? s.push_done_on : s.push_done_on + " " + s.push_event_off, "info");
      });
    }).then(done, done);
  });
}
