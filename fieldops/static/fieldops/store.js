/* Where a page keeps what it has not sent yet: IndexedDB (vault.js), each action sealed with
 * AES-GCM under the key the page gets from the server (`cfg.outbox_key`), imported as a key that
 * cannot be read back and kept beside the outbox, so that the event's service worker can send the
 * outbox while the page is closed (Background Sync). When access ends, `wipeEvent` erases every
 * key kept for the event, in localStorage and in IndexedDB. */
import "./vault.js";

const vault = self.FieldopsVault;

function storageGet(key) {
  try { return localStorage.getItem(key); } catch (e) { return null; }
}

export function storageForget(key) {
  try { localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
}

/** Erase every key this site keeps for `event` (any participant): both storages and IndexedDB.
 * A promise, settled when IndexedDB is done. */
export function wipeEvent(event) {
  const prefix = "fieldops:" + event + ":";
  ["localStorage", "sessionStorage"].forEach((name) => {
    try {
      const box = window[name];
      for (let i = box.length - 1; i >= 0; i--) {
        const k = box.key(i);
        if (k !== null && k.indexOf(prefix) === 0) box.removeItem(k);
      }
    } catch (e) { /* storage unavailable: nothing kept */ }
  });
  return vault.forget(prefix).catch(() => null);
}

/** The page's sealed stores for its event and participant. `key` is a promise of the CryptoKey,
 * or null without WebCrypto (not a secure context) or IndexedDB: then the outbox lives in memory
 * only. `extra` is what the service worker needs to send for the page (api, paths, csrf). */
export function SealedStore(cfg, extra) {
  this.base = vault.base(cfg.event, cfg.participant);
  this.closed = false;
  this.writes = Promise.resolve();
  this.key = null;
  if (window.crypto && crypto.subtle && window.indexedDB && cfg.outbox_key) {
    const base = this.base;
    this.key = vault.importKey(cfg.outbox_key).then((key) =>
      vault.put("keys", Object.assign({ name: base, event: cfg.event, participant: cfg.participant, key: key }, extra)).then(() => key));
    this.key.catch(() => { this.key = null; });
  }
}

/** A promise of the stored items ([] if none, or if they cannot be opened any more); an outbox
 * an older page kept in localStorage is taken over (and saved here by the client). */
SealedStore.prototype.read = function () {
  if (!this.key) return Promise.resolve([]);
  const legacy = this.base + ":outbox", raw = storageGet(legacy);
  storageForget(legacy);
  return this.key.then((key) => {
    let older = Promise.resolve([]);
    try {
      const stored = raw === null ? null : JSON.parse(raw);
      if (Array.isArray(stored)) older = Promise.resolve(stored);
      else if (stored && stored.iv && stored.data) older = vault.unseal(key, legacy, { iv: vault.bytes(stored.iv), data: vault.bytes(stored.data) });
    } catch (e) { /* unreadable: dropped */ }
    return Promise.all([older.catch(() => []), vault.outbox(key, this.base)]);
  }).then(([older, items]) => {
    const known = {};
    items.forEach((x) => { known[x.id] = true; });
    return older.filter((x) => !known[x.id]).concat(items);
  }).catch(() => []);
};

/** Keep exactly `items`, in order; writes happen one after another. */
SealedStore.prototype.save = function (items) {
  const copy = items.slice();
  this.writes = this.writes.then(() => {
    if (this.closed || !this.key) return null;
    return this.key.then((key) => (this.closed ? null : vault.keepOutbox(key, this.base, copy)));
  }).catch(() => { /* the older copy stays: resending an acknowledged id is harmless */ });
  return this.writes;
};

/** No write after this one: access ended and the storage is being erased. */
SealedStore.prototype.close = function () { this.closed = true; };
