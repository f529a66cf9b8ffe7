/* Fieldops client: the one module every page uses. No build step, no dependencies but Leaflet.
 *
 * Fieldops.Client keeps one WebSocket to /ws/events/<slug>/ alive: every page load replays the last
 * entries the participant may see (`cfg.since`, `?since=` in the connect request) so the feeds are
 * rebuilt, reconnects resume from the seq up to which the page holds everything, with exponential
 * backoff and jitter, and every submission waits in an outbox that is resent with the same id until
 * the server acknowledges it (the server answers a repeated id with the original ack). The outbox is
 * kept in localStorage sealed with AES-GCM under a key only the live page holds (`cfg.outbox_key`):
 * unsent arrest details are never on the phone's disk in clear. Entries are kept by seq, not by
 * "newer than the highest": a `resume` frame may replay entries older than live ones already shown
 * (docs/protocol.md), and none of them is dropped or shown twice.
 * When access ends (revoked, or the session is gone) the client erases what it kept for the event,
 * sends nothing more, and the page shows a final notice with its controls disabled.
 * Fieldops.FieldMap (fieldmap.js) draws what the journal says on a Leaflet map. No text from the server is ever
 * parsed as HTML: pages build nodes (`el`, `plain`), and the Content-Security-Policy runs only the
 * scripts served from the server's own origin.
 */
(function () {
  "use strict";

  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_REVOKED = 4403;
  var CLOSE_BEHIND = 4408; // the page did not read fast enough: reconnect now and resume
  var CLOSE_RESCOPED = 4409; // an organizer changed this participant's role or group
  var RETRYABLE = { unavailable: true, rate_limited: true };

  function config() {
    var el = document.getElementById("fo-config");
    return el ? JSON.parse(el.textContent) : {};
  }

  function fmt(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (_, key) {
      return values && key in values ? values[key] : "";
    });
  }

  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  var labels = null;

  /** The translated label of an enum value or entry type (cfg.labels), or the value itself. */
  function label(group, value) {
    if (value === null || value === undefined) return "";
    if (labels === null) labels = config().labels || {};
    var known = labels[group];
    return known && Object.prototype.hasOwnProperty.call(known, value) ? known[value] : String(value);
  }

  /** A client string with a count: `forms` is {one, other} (or a plain string), `%(n)s` is `n`;
   * `values` fills any other placeholders. English and Spanish need no more forms than these. */
  function plural(forms, n, values) {
    var text = typeof forms === "string" ? forms : (n === 1 ? forms.one : forms.other);
    return fmt(text, Object.assign({ n: n }, values || {}));
  }

  function storageGet(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  function storagePut(key, text) {
    try { localStorage.setItem(key, text); } catch (e) { /* private mode or full: memory only */ }
  }

  function storageForget(key) {
    try { localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
  }

  /** Erase every key this site keeps for `event` (any participant, both storages). */
  function wipeEvent(event) {
    var prefix = "fieldops:" + event + ":";
    ["localStorage", "sessionStorage"].forEach(function (name) {
      try {
        var box = window[name];
        for (var i = box.length - 1; i >= 0; i--) {
          var k = box.key(i);
          if (k !== null && k.indexOf(prefix) === 0) box.removeItem(k);
        }
      } catch (e) { /* storage unavailable: nothing kept */ }
    });
  }

  function bytesFromB64(text) {
    var bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function b64FromBytes(bytes) {
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  /** The outbox as kept in localStorage: AES-GCM under `keyText` (base64url, from the page), the
   * storage key as associated data, a fresh IV per write, writes in order. Without WebCrypto (not a
   * secure context) or a key, nothing is kept: the outbox lives in memory only. */
  function SealedStore(name, keyText) {
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

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  /* ------------------------------------------------------------------------------------------ */

  function Client(cfg, handlers) {
    this.cfg = cfg;
    this.handlers = handlers || {};
    this.key = "fieldops:" + cfg.event + ":" + cfg.participant;
    // Every page load replays its history from cfg.since, so the seq needs no keeping on the phone;
    // one kept by an older page goes.
    storageForget(this.key + ":seq");
    this.lastSeq = null; // every entry up to here is held (after the first replay)
    this.historySeq = typeof cfg.seq === "number" ? cfg.seq : 0; // the snapshot covers up to here
    this.seen = {}; // seqs above lastSeq already shown (while a replay fills in below them)
    this.replaying = false;
    this.outbox = [];
    this.store = new SealedStore(this.key + ":outbox", cfg.outbox_key);
    this.ready = false; // the stored outbox is open: only then does the page connect
    this.attempt = 0;
    this.state = "connecting";
    this.ws = null;
    this.live = false;
    this.stopped = false;
    this.finalMessage = null;
    this.timer = null;
    this.pingTimer = null;
    var self = this;
    this.loaded = this.store.read().then(function (items) {
      if (self.stopped) return;
      self.outbox = items.concat(self.outbox); // stored ones first: they were sent first
      self.ready = true;
      self.persist(); // seals an outbox an older page kept in clear
      self.setState(self.state);
    });
    window.addEventListener("offline", function () { if (!self.stopped) self.drop("offline"); });
    window.addEventListener("online", function () { if (!self.stopped) { self.attempt = 0; self.connectSoon(0); } });
  }

  Client.prototype.setState = function (state, message) {
    if (this.stopped) { state = "stopped"; message = this.finalMessage; }
    this.state = state;
    if (this.handlers.state) this.handlers.state(state, this.outbox.length, message);
  };

  Client.prototype.start = function () {
    var self = this;
    this.loaded.then(function () {
      if (self.stopped) return;
      if (navigator.onLine === false) self.setState("offline");
      else self.connect();
      self.pingTimer = setInterval(function () { self.heartbeat(); }, 20000);
    });
  };

  /** Where a page's first replay starts: after the server's `since`, the last entries it may see. */
  Client.prototype.firstSince = function () {
    if (typeof this.cfg.since === "number") return this.cfg.since;
    return Math.max(0, (this.cfg.seq || 0) - (this.cfg.backlog || 0));
  };

  Client.prototype.connect = function () {
    clearTimeout(this.timer);
    if (this.stopped || !this.ready || (this.ws && this.ws.readyState <= 1)) return;
    if (navigator.onLine === false) { this.setState("offline"); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // The resume rides in the connect request: on a congested network that is one round trip
    // fewer before the page is live, and the server sends nothing live before the replay is done.
    this.urlSince = this.lastSeq !== null ? this.lastSeq : this.firstSince();
    this.replaying = true;
    this.resumeId = null;
    var ws = new WebSocket(scheme + location.host + this.cfg.socket + "?since=" + this.urlSince);
    var self = this;
    this.ws = ws;
    this.live = false;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    ws.onmessage = function (msg) { if (self.ws === ws) self.receive(JSON.parse(msg.data)); };
    ws.onclose = function (ev) { if (self.ws === ws) self.closed(ev.code); };
    ws.onerror = function () { /* onclose follows */ };
  };

  Client.prototype.connectSoon = function (delay) {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.connect(); }, delay);
  };

  Client.prototype.drop = function (state) {
    var ws = this.ws;
    this.ws = null;
    this.live = false;
    if (ws) try { ws.close(); } catch (e) { /* already closing */ }
    this.setState(state);
  };

  Client.prototype.closed = function (code) {
    this.ws = null;
    this.live = false;
    if (this.stopped) return;
    if (code === CLOSE_BEHIND) { this.attempt = 0; this.connectSoon(Math.random() * 500); return; }
    // Each role has its own page: load it again as what this participant is now (the outbox stays).
    if (code === CLOSE_RESCOPED) { this.store.writes.then(function () { window.location.reload(); }); return; }
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_REVOKED) { this.finish(code); return; }
    if (navigator.onLine === false) { this.setState("offline"); return; }
    // Exponential backoff with full jitter, capped, so a crowd of phones does not reconnect at once.
    var base = Math.min(30000, 500 * Math.pow(2, this.attempt));
    this.attempt += 1;
    this.setState("reconnecting");
    this.connectSoon(base / 2 + Math.random() * base / 2);
  };

  /** Access ended: a phone that may be in someone else's hands keeps nothing of the event, sends
   * nothing more, and never reconnects; the handlers' `stopped` shows it for good. */
  Client.prototype.finish = function (code) {
    var strings = this.cfg.strings || {};
    var message = strings[code === CLOSE_REVOKED ? "revoked" : "not_joined"];
    this.stopped = true;
    this.live = false;
    this.finalMessage = message;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingDeadline);
    clearInterval(this.pingTimer);
    if (this.ws) try { this.ws.close(); } catch (e) { /* already closing */ }
    this.ws = null;
    this.outbox = [];
    this.store.close();
    wipeEvent(this.cfg.event);
    this.setState("stopped", message);
    if (this.handlers.stopped) this.handlers.stopped(message, code);
  };

  Client.prototype.heartbeat = function () {
    if (this.stopped || !this.ws || this.ws.readyState !== 1) return;
    var ws = this.ws, self = this;
    this.pingId = uuid4();
    this.raw({ type: "ping", id: this.pingId, data: {} });
    // A socket that answers nothing for 10 s is dead even if the browser has not noticed.
    this.pingDeadline = setTimeout(function () { if (self.ws === ws) { self.drop("reconnecting"); self.closed(1006); } }, 10000);
  };

  Client.prototype.raw = function (frame) {
    if (this.ws && this.ws.readyState === 1) { this.ws.send(JSON.stringify(frame)); return true; }
    return false;
  };

  Client.prototype.receive = function (frame) {
    var h = this.handlers;
    switch (frame.type) {
      case "hello":
        this.attempt = 0;
        // The server is already replaying from the seq in the connect request, unless that seq
        // is beyond its own: then the event was recreated, and the page starts afresh.
        if (this.urlSince > frame.data.seq) {
          var since = Math.max(0, Math.min(this.cfg.seq, frame.data.seq) - (this.cfg.backlog || 0));
          this.lastSeq = since;
          this.seen = {};
          this.resumeId = uuid4();
          this.raw({ type: "resume", id: this.resumeId, data: { since: since } });
        }
        if (h.hello) h.hello(frame.data);
        break;
      case "replay.done":
        if (this.resumeId !== null && frame.id !== this.resumeId) break; // not the replay awaited
        this.resumeId = null;
        this.replaying = false;
        this.advance(frame.seq);
        this.live = true;
        this.setState("live");
        this.flush();
        if (h.replayDone) h.replayDone(frame);
        break;
      case "pong":
        clearTimeout(this.pingDeadline);
        break;
      case "ack":
        this.settle(frame.id, frame, null);
        break;
      case "error":
        var item = this.find(frame.id);
        // A busy server (rate_limited, unavailable) is worth a few more tries; anything else, or
        // the last try, is shown as failed and dropped from the outbox: no endless resending.
        if (item && RETRYABLE[frame.code] && this.retryLater(item)) break;
        if (item || frame.id === null) this.settle(frame.id, null, frame);
        if (h.error) h.error(frame, item);
        break;
      default:
        if (typeof frame.seq !== "number") return;
        if (this.seen[frame.seq] || (this.lastSeq !== null && frame.seq <= this.lastSeq)) return;
        this.seen[frame.seq] = true;
        // History: what the page's snapshot already accounts for. An entry missed while the
        // socket was down is news to whoever holds the page, and counts as live.
        frame.replayed = this.replaying && frame.seq <= this.historySeq;
        // Live entries arrive in seq order; during a replay, older ones may still come.
        if (!this.replaying) this.advance(frame.seq);
        if (h.entry) h.entry(frame);
    }
  };

  /** Everything up to `seq` and every seq seen is held: resume from the highest of them. */
  Client.prototype.advance = function (seq) {
    var top = Math.max(this.lastSeq === null ? 0 : this.lastSeq, seq);
    Object.keys(this.seen).forEach(function (k) { top = Math.max(top, +k); });
    this.lastSeq = top;
    this.seen = {};
  };

  /** Keep the outbox on the phone (sealed), in the order of the changes; not before the stored
   * one is open, which would overwrite it (opening it saves both). */
  Client.prototype.persist = function () {
    if (!this.stopped && this.ready) this.store.save(this.outbox);
  };

  Client.prototype.find = function (id) {
    for (var i = 0; i < this.outbox.length; i++) if (this.outbox[i].id === id) return this.outbox[i];
    return null;
  };

  /** An item is done: acknowledged, or refused (then marked `failed` for the handlers to show). */
  Client.prototype.settle = function (id, ack, error) {
    var item = this.find(id);
    this.outbox = this.outbox.filter(function (x) { return x.id !== id; });
    this.persist();
    this.setState(this.state);
    if (item && error) item.failed = error.code;
    if (item && ack && this.handlers.ack) this.handlers.ack(item, ack);
  };

  /** Resend `item` after a growing pause (about 3 s, doubling up to a minute); false once it has
   * been answered with a retryable error 6 times: then it counts as failed. */
  Client.prototype.retryLater = function (item) {
    var MAX_TRIES = 6;
    item.tries = (item.tries || 0) + 1;
    if (item.tries >= MAX_TRIES) return false;
    this.persist();
    var self = this;
    var delay = Math.min(60000, 3000 * Math.pow(2, item.tries - 1));
    clearTimeout(this.retryTimer); // one resend of the outbox at a time, whatever failed
    this.retryTimer = setTimeout(function () { self.retryTimer = null; self.flush(); }, delay / 2 + Math.random() * delay / 2);
    return true;
  };

  Client.prototype.flush = function () {
    if (!this.live || this.retryTimer) return; // a pending resend sends everything then
    for (var i = 0; i < this.outbox.length; i++) {
      var item = this.outbox[i];
      this.raw({ type: item.type, id: item.id, data: item.data });
    }
  };

  /** Queue an action; it is sent now if the socket is live, else when it is. Returns its id, or
   * null once access has ended: then nothing is queued or sent. */
  Client.prototype.send = function (type, data) {
    if (this.stopped) return null;
    var item = { id: uuid4(), type: type, data: data, at: new Date().toISOString() };
    this.outbox.push(item);
    this.persist();
    if (this.live) this.raw({ type: type, id: item.id, data: data });
    this.setState(this.state);
    return item.id;
  };

  Client.prototype.pending = function () { return this.outbox.length; };

  function ago(iso, s) {
    var minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (!(minutes >= 1)) return s.ago_now;
    if (minutes < 60) return plural(s.ago_min, minutes);
    return plural(s.ago_h, Math.floor(minutes / 60));
  }

  /** A node showing `text` as it is. Leaflet parses a string given as an icon's `html` or as a
   * tooltip as HTML, and every text here may come from a participant: they all get one of these. */
  function plain(text, className) {
    return el("span", { class: className || "fo-text", text: text === null || text === undefined ? "" : String(text) });
  }

  /* ------------------------------------------------------------------------------------------ */

  /** One line of text for a journal entry, for the feeds and toasts: client strings and labels,
   * never a raw value. Kinds this page does not know still show, by their label. */
  function describe(entry, s, groupName) {
    var d = entry.data || {};
    var who = d.callsign || d.reporter || d.observer || d.sender || d.by || "";
    var group = groupName && d.group !== null && d.group !== undefined ? groupName(d.group) : "";
    function more(text) { return text ? " — " + text : ""; }
    function also(text) { return text ? " · " + text : ""; }
    switch (entry.type) {
      case "checkin": return fmt(s.line_checkin, { who: who, status: label("checkin", d.status) }) + more(d.note);
      case "incident.reported":
        return fmt(s.line_incident, { kind: label("kind", d.kind), severity: label("severity", d.severity) }) + also(d.reporter) + more(d.description);
      case "incident.updated":
        return fmt(s.line_incident_updated, { id: d.incident, kind: label("kind", d.kind), status: label("status", d.status) }) +
          (d.by ? also(fmt(s.line_by, { who: d.by })) : "") + more(d.note);
      case "sos.raised": return fmt(s.line_sos, { who: who }) + more(d.description);
      case "sos.updated": return fmt(s.line_sos_updated, { who: who }) + more(d.description);
      case "sos.nearby":
        return fmt(s.line_sos_nearby, { who: d.sender, away: fmt(s.away, { d: Math.round(d.distance_m), dir: label("direction", d.direction) }) }) + more(d.note);
      case "arrest.logged": return plural(s.line_arrest, d.people_count) + also(d.agency) + also(d.observer);
      case "route.published": return s.route_changed + " " + fmt(s.line_route, { version: d.version }) + also(group) + more(d.note);
      case "route.acked": return fmt(s.line_route_acked, { who: who, version: d.version });
      case "route.ack_reminder": return fmt(s.line_route_reminder, { who: who, version: d.version });
      case "alert.sent": return d.text;
      case "participant.joined": return fmt(s.line_joined, { who: who, role: label("role", d.role) });
      case "participant.revoked": return fmt(s.line_revoked, { who: who, role: label("role", d.role) });
      case "participant.changed": return fmt(s.line_changed, { who: who, role: label("role", d.role) }) + also(group);
      case "device.revoked": return fmt(s.line_device_revoked, { who: who }) + also(d.label);
      case "invite.revoked": return fmt(s.line_invite_revoked, { role: label("role", d.role) }) + also(d.label);
      case "marshal.overdue": return who + ": " + plural(s.overdue, Math.round(d.silent_minutes));
      case "marshal.back": return who + ": " + s.back;
      case "marshal.off_route": return who + ": " + fmt(s.off_route, { d: Math.round(d.distance_m) });
      case "marshal.on_route": return who + ": " + s.on_route;
      case "marshal.in_zone": return fmt(s.line_in_zone, { who: who, name: d.name });
      case "zone.activated": return s.zone_on + ": " + d.name;
      case "zone.deactivated": return s.zone_off + ": " + d.name;
      default:
        return (who ? who + ": " : "") + (d.text || label("entry", entry.type));
    }
  }

  function kindLevel(entry) {
    var d = entry.data || {};
    if (entry.type === "sos.raised" || entry.type === "sos.nearby" || d.kind === "sos") return "danger";
    if (d.level) return d.level;
    if (d.severity === "high" || d.severity === "critical") return "danger";
    if (/overdue|off_route|in_zone|zone.activated|revoked/.test(entry.type)) return "warning";
    if (entry.type === "checkin" && d.status && d.status !== "ok") return "warning";
    return "info";
  }

  /** The connection bar every page shows: live / reconnecting / offline, and what waits to be sent. */
  function stateBar(client, cfg) {
    var bar = document.getElementById("fo-state");
    return function (state, pending, message) {
      if (!bar) return;
      var s = cfg.strings;
      var text = { live: s.live, connecting: s.connecting, reconnecting: s.reconnecting, offline: s.offline, stopped: message || s.offline }[state] || state;
      if (pending && state !== "stopped") text += " · " + plural(s.waiting, pending);
      bar.textContent = text;
      bar.className = "fo-state fo-state-" + state;
      bar.setAttribute("data-state", state);
      bar.setAttribute("data-pending", String(pending));
    };
  }

  /** A short message under the connection bar; refusals stay until tapped. */
  function toast(text, level) {
    var box = document.getElementById("fo-toasts");
    if (!box) return;
    var node = el("div", { class: "fo-toast fo-toast-" + (level || "info"), role: level === "danger" ? "alert" : "status", text: text });
    node.addEventListener("click", function () { node.remove(); });
    box.appendChild(node);
    if (level !== "danger") setTimeout(function () { node.remove(); }, 6000);
  }

  var CONTROLS = "input, select, textarea, button";

  /** Disable every control under `root`, but the language switch (it only reloads the page). */
  function disableControls(root) {
    var found = root.matches && root.matches(CONTROLS) ? [root] : [];
    found = found.concat(Array.prototype.slice.call(root.querySelectorAll(CONTROLS)));
    found.forEach(function (c) { if (!c.closest(".fo-lang")) c.disabled = true; });
  }

  /** The notice that access has ended, at the top of the page, and a page that can do nothing
   * more: its controls are disabled, also those a script adds later. */
  function finalNotice(text, cfg) {
    var box = document.getElementById("fo-final");
    if (!box) {
      box = el("div", { id: "fo-final", class: "fo-final", role: "alert" });
      var bar = document.getElementById("fo-state");
      if (bar && bar.parentNode) bar.parentNode.insertBefore(box, bar.nextSibling);
      else document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent = "";
    box.appendChild(el("p", { text: text }));
    box.appendChild(el("p", { text: cfg.strings.wiped }));
    document.body.classList.add("fo-stopped");
    disableControls(document.body);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, function (node) { if (node.nodeType === 1) disableControls(node); });
      });
    }).observe(document.body, { childList: true, subtree: true });
    window.scrollTo(0, 0);
  }

  /** Start a page: config, connection bar, client; `entry` gets every journal entry, with
   * `entry.replayed` true for history the page's snapshot already accounts for. */
  function boot(handlers) {
    var cfg = config();
    var client;
    var showState;
    client = new Client(cfg, {
      state: function (state, pending, message) { showState(state, pending, message); if (handlers.state) handlers.state(state, pending); },
      hello: handlers.hello,
      replayDone: handlers.replayDone,
      entry: handlers.entry,
      ack: function (item, ack) { if (handlers.ack) handlers.ack(item, ack); },
      error: function (frame, item) {
        var text = cfg.strings.refused + ": " + frame.message;
        (frame.fields || []).forEach(function (f) { text += " (" + f.field + ": " + f.message + ")"; });
        toast(text, "danger");
        if (handlers.error) handlers.error(frame, item);
      },
      stopped: function (message, code) {
        finalNotice(message, cfg);
        if (handlers.stopped) handlers.stopped(message, code);
      },
    });
    showState = stateBar(client, cfg);
    client.start();
    window.FO = window.FO || {};
    window.FO.client = client;
    return { cfg: cfg, client: client };
  }

  window.Fieldops = {
    Client: Client,
    boot: boot,
    config: config,
    describe: describe,
    kindLevel: kindLevel,
    label: label,
    plural: plural,
    toast: toast,
    fmt: fmt,
    plain: plain,
    el: el,
    ago: ago,
    uuid4: uuid4,
    csrfToken: csrfToken,
  };
})();
