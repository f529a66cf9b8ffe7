/* The event's service worker (scope: the event's page, /e/<slug>/; served after vault.js by
 * fieldops/offline.py). It keeps, per event, the last page the server sent (with its config and
 * snapshot), the static files that page loaded and the basemap's tiles around the routes, so that
 * the page opens with no network; it sends the outbox when the network is back and the page is
 * closed (Background Sync); it shows Web Push notifications with the server's generic text only.
 * Everything it keeps for the event goes when the server says the browser is no longer in it, or
 * after `keepUntil` (docs/pages.md, "Offline and notifications"). */
"use strict";

var vault = self.FieldopsVault;
var SCOPE = new URL(self.registration.scope);
var SLUG = SCOPE.pathname.split("/")[2];
var PREFIX = "fieldops:" + SLUG + ":";
var PAGE_CACHE = PREFIX + "page", FILES_CACHE = PREFIX + "files", TILES_CACHE = PREFIX + "tiles:";
var META = SCOPE.pathname + "?fieldops=meta";
var NETWORK_WAIT_MS = 6000; // a page or file the network has not brought by then comes from the copy
var TILE_ZOOMS = [13, 16]; // the zooms the pages show the march at
var MAX_TILES = 1500;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (ev) { ev.waitUntil(self.clients.claim()); });

/** Everything kept for the event, and the worker itself, goes. */
function eraseEvent() {
  var gone = caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0; }).map(function (n) { return caches.delete(n); }));
  });
  var push = self.registration.pushManager.getSubscription().then(function (s) { return s ? s.unsubscribe() : null; });
  return Promise.all([gone, vault.forget(PREFIX), push.catch(function () { return null; })]).then(function () { return self.registration.unregister(); });
}

function fromNetwork(request) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, NETWORK_WAIT_MS);
    fetch(request).then(function (r) { clearTimeout(timer); resolve(r); }, function (e) { clearTimeout(timer); reject(e); });
  });
}

/** Keep a page the server sent, with the time it was kept. */
function keepPage(response) {
  return response.text().then(function (text) {
    var headers = new Headers(response.headers);
    headers.set("X-Fieldops-Kept-At", new Date().toISOString());
    return caches.open(PAGE_CACHE).then(function (cache) {
      return cache.put(SCOPE.pathname, new Response(text, { status: 200, headers: headers }));
    });
  });
}

/** The kept page, marked as kept (the page shows how old it is). */
function keptPage() {
  return caches.match(SCOPE.pathname, { cacheName: PAGE_CACHE, ignoreVary: true }).then(function (page) {
    if (!page) return Response.error();
    var at = page.headers.get("X-Fieldops-Kept-At") || "";
    return page.text().then(function (text) {
      var marked = text.replace('id="fo-state"', 'id="fo-state" data-cached-at="' + at.replace(/[^0-9TZ:.+-]/g, "") + '"');
      return new Response(marked, { status: 200, headers: page.headers });
    });
  });
}

/** Whether what is kept for the event is past its `keepUntil`: then it is all erased. */
function expired() {
  return caches.match(META, { cacheName: PAGE_CACHE }).then(function (meta) { return meta ? meta.json() : {}; }).then(function (m) {
    if (!m.keepUntil || Date.now() <= Date.parse(m.keepUntil)) return false;
    return eraseEvent().then(function () { return true; });
  }).catch(function () { return false; });
}

function navigate(request) {
  return expired().then(function () { return fromNetwork(request); }).then(function (response) {
    if (response.status === 200) keepPage(response.clone()).catch(function () { return null; });
    else if (response.status === 403) eraseEvent().catch(function () { return null; });
    return response;
  }, keptPage);
}

/** A static file: the network's (kept for later if the page loaded it), else the kept copy. */
function staticFile(request) {
  return caches.open(FILES_CACHE).then(function (cache) {
    return fromNetwork(request).then(function (response) {
      if (response.ok) cache.match(request).then(function (had) { if (had) cache.put(request, response.clone()); });
      return response.clone();
    }, function () {
      return cache.match(request).then(function (kept) { return kept || Response.error(); });
    });
  });
}

/** A tile: URLs carry the archive's version and never change, so the kept one if any. */
function tile(request) {
  return caches.match(request).then(function (kept) { return kept || fetch(request); });
}

self.addEventListener("fetch", function (ev) {
  var request = ev.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== SCOPE.origin) return;
  if (request.mode === "navigate" && url.pathname === SCOPE.pathname) ev.respondWith(navigate(request));
  else if (url.pathname.indexOf("/static/") === 0) ev.respondWith(staticFile(request));
  else if (url.pathname.indexOf("/tiles/") === 0) ev.respondWith(tile(request));
});

/** The tiles covering `t.area` (clipped to the archive's bounds) at the pages' zooms, lowest
 * zoom first, at most MAX_TILES. */
function tileUrls(t) {
  var a = t.area, b = t.bounds || [-180, -85, 180, 85], urls = [];
  if (!a) return urls;
  var w = Math.max(a[0], b[0]), s = Math.max(a[1], b[1]), e = Math.min(a[2], b[2]), n = Math.min(a[3], b[3]);
  if (w > e || s > n) return urls;
  var x = function (lng, z) { return Math.floor((lng + 180) / 360 * Math.pow(2, z)); };
  var y = function (lat, z) { var r = lat * Math.PI / 180; return Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * Math.pow(2, z)); };
  for (var z = Math.max(TILE_ZOOMS[0], t.min_zoom); z <= Math.min(TILE_ZOOMS[1], t.max_zoom); z++) {
    for (var tx = x(w, z); tx <= x(e, z); tx++) {
      for (var ty = y(n, z); ty <= y(s, z); ty++) {
        if (urls.length >= MAX_TILES) return urls;
        urls.push(t.url.replace("{z}", z).replace("{x}", tx).replace("{y}", ty));
      }
    }
  }
  return urls;
}

/** Keep the tiles of the event's area for the archive's current version; drop other versions'. */
function keepTiles(t) {
  var version = t.url.split("/")[2], name = TILES_CACHE + version;
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(TILES_CACHE) === 0 && n !== name; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return caches.open(name); }).then(function (cache) {
    var todo = tileUrls(t);
    var next = function () {
      var url = todo.shift();
      if (url === undefined) return null;
      return cache.match(url).then(function (had) { return had || cache.add(url); }).catch(function () { return null; }).then(next);
    };
    return Promise.all([next(), next(), next(), next()]); // four at a time
  });
}

/** Keep what the page asked for: itself (if no copy yet), its files, its tiles, until when. */
function keep(msg) {
  var meta = caches.open(PAGE_CACHE).then(function (cache) {
    return cache.put(META, new Response(JSON.stringify({ keepUntil: msg.keepUntil }), { headers: { "Content-Type": "application/json" } }))
      .then(function () { return cache.match(SCOPE.pathname, { ignoreVary: true }); });
  }).then(function (had) {
    if (had) return null;
    return fetch(SCOPE.pathname, { credentials: "same-origin" }).then(function (r) { return r.status === 200 ? keepPage(r) : null; });
  });
  var files = caches.open(FILES_CACHE).then(function (cache) {
    return Promise.all((msg.files || []).map(function (url) {
      return cache.match(url).then(function (had) { return had || cache.add(url); }).catch(function () { return null; });
    }));
  });
  return Promise.all([meta, files, msg.tiles ? keepTiles(msg.tiles) : null]).then(function () { return "kept"; });
}

self.addEventListener("message", function (ev) {
  if (!ev.data || ev.data.type !== "keep") return;
  var done = keep(ev.data).catch(function () { return "failed"; });
  ev.waitUntil(done.then(function (result) { if (ev.source) ev.source.postMessage({ type: "kept", result: result }); }));
});

/* --- Background Sync: the outbox, sent while the page is closed ------------------------------- */

var REFUSED = { 400: true, 404: true, 413: true, 422: true }; // refused for good: not sent again

/** Send one participant's kept actions in order over REST, each with its id as Idempotency-Key
 * (a repeat is answered with the first answer and writes nothing). Rejects while any is left to
 * send later, so that the browser tries again. */
function sendOutbox(k) {
  return vault.outbox(k.key, k.name).then(function (items) {
    var next = function () {
      var item = items.shift();
      if (!item) return null;
      var path = k.paths && k.paths[item.type];
      if (!path) return vault.remove("outbox", k.name + ":" + item.id).then(next);
      return fetch(k.api + "/" + path, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(item.data),
        headers: { "Content-Type": "application/json", "X-CSRFToken": k.csrf || "", "Idempotency-Key": item.id },
      }).then(function (r) {
        if (r.ok || REFUSED[r.status]) return vault.remove("outbox", k.name + ":" + item.id).then(next);
        if (r.status === 401 || r.status === 403) return stillJoined(k).then(function (joined) {
          if (!joined) return eraseEvent();
          return vault.remove("outbox", k.name + ":" + item.id).then(next);
        });
        throw new Error("later: " + r.status);
      });
    };
    return next();
  });
}

/** Whether this browser is still in the event (a refusal may be of one action only). */
function stillJoined(k) {
  return fetch(k.api, { credentials: "same-origin" }).then(function (r) { return r.status !== 401 && r.status !== 403; });
}

self.addEventListener("sync", function (ev) {
  if (ev.tag !== "outbox:" + SLUG) return;
  // Sent whether a page is open or not: a page that also sends an action on its socket is
  // answered with the first answer (the same id), so nothing is written twice.
  ev.waitUntil(expired().then(function (gone) {
    return gone ? null : vault.all("keys", PREFIX).then(function (keys) { return Promise.all(keys.map(sendOutbox)); });
  }));
});

/* --- Web Push: the server's generic text, nothing else ------------------------------------------ */

self.addEventListener("push", function (ev) {
  var d = {};
  try { d = ev.data ? ev.data.json() : {}; } catch (e) { d = {}; }
  ev.waitUntil(self.registration.showNotification(d.title || "Fieldops", {
    body: d.body || "", tag: d.tag || PREFIX + "push", lang: d.lang || "", data: { url: d.url, seq: d.seq },
  }));
});

self.addEventListener("notificationclick", function (ev) {
  ev.notification.close();
  var url = new URL((ev.notification.data && ev.notification.data.url) || SCOPE.href, SCOPE.href);
  var target = url.origin === SCOPE.origin && url.pathname.indexOf(SCOPE.pathname) === 0 ? url.href : SCOPE.href;
  ev.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (open) {
    for (var i = 0; i < open.length; i++) if (open[i].url.split("#")[0] === target && "focus" in open[i]) return open[i].focus();
    return self.clients.openWindow(target);
  }));
});
