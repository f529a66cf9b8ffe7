/* What a page keeps on the phone for one event and participant, in IndexedDB, sealed with AES-GCM:
 * its unsent actions (`outbox`, one record per action) and its last journal entries (`recent`),
 * with the key that seals them (`keys`: a non-extractable CryptoKey, which the service worker uses
 * to send the outbox while the page is closed). Every record's name begins with
 * "fieldops:<event>:<participant>", and `forget("fieldops:<event>:")` erases an event's.
 *
 * A plain script, shared as it is: the pages import it as a module for its effect, and the event's
 * service worker is served with it (fieldops/offline.py). It sets `self.FieldopsVault`. */
(function (scope) {
  "use strict";
  var DB = "fieldops";
  var STORES = ["keys", "outbox", "recent"];
  var opened = null;

  function open() {
    if (opened) return opened;
    opened = new Promise(function (resolve, reject) {
      if (!scope.indexedDB) { reject(new Error("no IndexedDB")); return; }
      var request = scope.indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        STORES.forEach(function (name) { request.result.createObjectStore(name, { keyPath: "name" }); });
      };
      request.onsuccess = function () {
        var db = request.result;
        db.onversionchange = function () { db.close(); opened = null; };
        resolve(db);
      };
      request.onerror = function () { reject(request.error); };
    });
    opened.catch(function () { opened = null; });
    return opened;
  }

  /** Run `work(stores)` in one transaction; resolves with what it returned (an IDBRequest's
   * result once the transaction is complete). */
  function run(names, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(names, mode);
        var stores = {};
        [].concat(names).forEach(function (n) { stores[n] = tx.objectStore(n); });
        var out = work(stores);
        tx.oncomplete = function () { resolve(out && typeof out === "object" && "readyState" in out ? out.result : out); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function get(store, name) { return run(store, "readonly", function (s) { return s[store].get(name); }); }
  function put(store, record) { return run(store, "readwrite", function (s) { s[store].put(record); }); }
  function remove(store, name) { return run(store, "readwrite", function (s) { s[store].delete(name); }); }

  /** Every record of `store` whose name begins with `prefix`. */
  function all(store, prefix) {
    return run(store, "readonly", function (s) { return s[store].getAll(); }).then(function (records) {
      return records.filter(function (r) { return r.name.indexOf(prefix) === 0; });
    });
  }

  /** Erase every record, in every store, whose name begins with `prefix`. */
  function forget(prefix) {
    return run(STORES, "readwrite", function (stores) {
      STORES.forEach(function (name) {
        stores[name].openCursor().onsuccess = function (ev) {
          var cursor = ev.target.result;
          if (!cursor) return;
          if (String(cursor.key).indexOf(prefix) === 0) cursor.delete();
          cursor.continue();
        };
      });
    });
  }

  /** base64url text as bytes. */
  function bytes(text) {
    var bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(bin, function (c) { return c.charCodeAt(0); });
  }

  /** The page's key (base64url) as a CryptoKey that can seal and open but never be read back. */
  function importKey(text) {
    return scope.crypto.subtle.importKey("raw", bytes(text), "AES-GCM", false, ["encrypt", "decrypt"]);
  }

  /** `value` as {iv, data}: AES-GCM under `key`, with `name` as associated data. */
  function seal(key, name, value) {
    var iv = scope.crypto.getRandomValues(new Uint8Array(12));
    var aad = new TextEncoder().encode(name);
    var text = new TextEncoder().encode(JSON.stringify(value));
    return scope.crypto.subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: aad }, key, text).then(function (data) {
      return { iv: iv, data: data };
    });
  }

  function unseal(key, name, record) {
    var aad = new TextEncoder().encode(name);
    return scope.crypto.subtle.decrypt({ name: "AES-GCM", iv: record.iv, additionalData: aad }, key, record.data).then(function (plain) {
      return JSON.parse(new TextDecoder().decode(plain));
    });
  }

  /** The unsent actions kept under `base` ("fieldops:<event>:<participant>"), in order; one that
   * cannot be opened (sealed under a key the server no longer gives) is left out. */
  function outbox(key, base) {
    return all("outbox", base + ":").then(function (records) {
      records.sort(function (a, b) { return a.order - b.order; });
      return Promise.all(records.map(function (r) {
        return unseal(key, r.name, r).catch(function () { return null; });
      }));
    }).then(function (items) { return items.filter(Boolean); });
  }

  /** Keep exactly `items` as the outbox under `base`: each sealed on its own, so that the
   * service worker can remove what it delivered without touching what the page adds. */
  function keepOutbox(key, base, items) {
    return Promise.all(items.map(function (item, i) {
      var name = base + ":" + item.id;
      return seal(key, name, item).then(function (sealed) {
        return { name: name, order: i, iv: sealed.iv, data: sealed.data };
      });
    })).then(function (records) {
      var keep = {};
      records.forEach(function (r) { keep[r.name] = true; });
      return run("outbox", "readwrite", function (s) {
        s.outbox.openCursor().onsuccess = function (ev) {
          var cursor = ev.target.result;
          if (!cursor) return;
          if (String(cursor.key).indexOf(base + ":") === 0 && !keep[cursor.key]) cursor.delete();
          cursor.continue();
        };
        records.forEach(function (r) { s.outbox.put(r); });
      });
    });
  }

  scope.FieldopsVault = {
    get: get, put: put, remove: remove, all: all, forget: forget,
    bytes: bytes, importKey: importKey, seal: seal, unseal: unseal, outbox: outbox, keepOutbox: keepOutbox,
    base: function (event, participant) { return "fieldops:" + event + ":" + participant; },
  };
})(self);
