/* Where a page keeps what it has not sent yet, on the phone: localStorage, sealed with AES-GCM
 * under a key only the live page holds (`cfg.outbox_key`), so unsent arrest details are never on
 * the phone's disk in clear. When access ends, wipeEvent erases every key kept for the event. */

function storageGet(key) {
  try { return localStorage.getItem(key); } catch (e) { return null; }
}

function storagePut(key, text) {
  try { localStorage.setItem(key, text); } catch (e) { /* private mode or full: memory only */ }
}

export function storageForget(key) {
  try { localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
}

/** Erase every key this site keeps for `event` (any participant, both storages). */
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
}

function bytesFromB64(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function b64FromBytes(bytes) {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/** The outbox as kept in localStorage: AES-GCM under `keyText` (base64url, from the page), the
 * storage key as associated data, a fresh IV per write, writes in order. Without WebCrypto (not a
 * secure context) or a key, nothing is kept: the outbox lives in memory only. */
export function SealedStore(name, keyText) {
  this.name = name;
  this.closed = false;
  this.writes = Promise.resolve();
  this.subtle = window.crypto && window.crypto.subtle;
  this.key = null;
  if (this.subtle && keyText) {
    this.key = this.subtle.importKey("raw", bytesFromB64(keyText), "AES-GCM", false, ["encrypt", "decrypt"]);
    this.key.catch(function () { /* read and save fall back to memory only */ });
  }
  this.aad = new TextEncoder().encode(name);
}

/** A promise of the stored items ([] if none, or if they cannot be opened any more). */
SealedStore.prototype.read = function () {
  var raw = storageGet(this.name), self = this;
  var stored = null;
  try { stored = raw === null ? null : JSON.parse(raw); } catch (e) { stored = null; }
  if (Array.isArray(stored)) return Promise.resolve(stored); // kept in clear by an older page: sealed at the next save
  if (!stored || !stored.iv || !stored.data || !this.key) return Promise.resolve([]);
  return this.key.then(function (key) {
    return self.subtle.decrypt({ name: "AES-GCM", iv: bytesFromB64(stored.iv), additionalData: self.aad }, key, bytesFromB64(stored.data));
  }).then(function (plain) {
    var items = JSON.parse(new TextDecoder().decode(plain));
    return Array.isArray(items) ? items : [];
  }).catch(function () { return []; }); // sealed under a key the server no longer gives
};

SealedStore.prototype.save = function (items) {
  var text = JSON.stringify(items), self = this;
  this.writes = this.writes.then(function () {
    if (self.closed) return null;
    if (!items.length || !self.key) { storageForget(self.name); return null; }
    var iv = crypto.getRandomValues(new Uint8Array(12));
    return self.key.then(function (key) {
      return self.subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: self.aad }, key, new TextEncoder().encode(text));
    }).then(function (sealed) {
      if (!self.closed) storagePut(self.name, JSON.stringify({ v: 1, iv: b64FromBytes(iv), data: b64FromBytes(new Uint8Array(sealed)) }));
    });
  }).catch(function () { /* the older copy stays: resending an acknowledged id is harmless */ });
  return this.writes;
};

/** No write after this one: access ended and the storage is being erased. */
SealedStore.prototype.close = function () { this.closed = true; };
