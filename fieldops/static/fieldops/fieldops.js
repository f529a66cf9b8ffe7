/* Fieldops client: the one module every page uses. No build step, no dependencies but Leaflet.
 *
 * Fieldops.Client keeps one WebSocket to /ws/events/<slug>/ alive: it resumes from the seq up to
 * which it holds everything (kept in localStorage per event and participant; `?since=` in the
 * connect request), reconnects with exponential backoff and jitter, and keeps every submission in a
 * persistent outbox that is resent with the same id until the server acknowledges it (the server
 * answers a repeated id with the original ack). Entries are kept by seq, not by "newer than the
 * highest": a `resume` frame may replay entries older than live ones already shown
 * (docs/protocol.md), and none of them is dropped or shown twice.
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

  function store(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: memory only */ }
  }

  function load(key, fallback) {
    try {
      var raw = localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }

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
    this.lastSeq = load(this.key + ":seq", null); // every entry up to here is held
    this.seen = {}; // seqs above lastSeq already shown (while a replay fills in below them)
    this.replaying = false;
    this.outbox = load(this.key + ":outbox", []);
    this.attempt = 0;
    this.state = "connecting";
    this.ws = null;
    this.live = false;
    this.stopped = false;
    this.timer = null;
    this.pingTimer = null;
    var self = this;
    window.addEventListener("offline", function () { self.drop("offline"); });
    window.addEventListener("online", function () { self.attempt = 0; self.connectSoon(0); });
  }

  Client.prototype.setState = function (state, message) {
    this.state = state;
    if (this.handlers.state) this.handlers.state(state, this.outbox.length, message);
  };

  Client.prototype.start = function () {
    if (navigator.onLine === false) this.setState("offline");
    else this.connect();
    var self = this;
    this.pingTimer = setInterval(function () { self.heartbeat(); }, 20000);
  };

  Client.prototype.connect = function () {
    clearTimeout(this.timer);
    if (this.stopped || (this.ws && this.ws.readyState <= 1)) return;
    if (navigator.onLine === false) { this.setState("offline"); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // The resume rides in the connect request: on a congested network that is one round trip
    // fewer before the page is live, and the server sends nothing live before the replay is done.
    this.urlSince = this.lastSeq !== null ? this.lastSeq : Math.max(0, (this.cfg.seq || 0) - (this.cfg.backlog || 0));
    this.replaying = true;
    this.resumeId = null;
    var query = this.urlSince !== null ? "?since=" + this.urlSince : "";
    var ws = new WebSocket(scheme + location.host + this.cfg.socket + query);
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
    if (code === CLOSE_BEHIND) { this.attempt = 0; this.connectSoon(Math.random() * 500); return; }
    // Each role has its own page: load it again as what this participant is now (the outbox stays).
    if (code === CLOSE_RESCOPED) { window.location.reload(); return; }
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_REVOKED) {
      this.stopped = true;
      this.setState("stopped", this.cfg.strings[code === CLOSE_REVOKED ? "revoked" : "not_joined"]);
      return;
    }
    if (navigator.onLine === false) { this.setState("offline"); return; }
    // Exponential backoff with full jitter, capped, so a crowd of phones does not reconnect at once.
    var base = Math.min(30000, 500 * Math.pow(2, this.attempt));
    this.attempt += 1;
    this.setState("reconnecting");
    this.connectSoon(base / 2 + Math.random() * base / 2);
  };

  Client.prototype.heartbeat = function () {
    if (!this.ws || this.ws.readyState !== 1) return;
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
    store(this.key + ":seq", top);
  };

  Client.prototype.find = function (id) {
    for (var i = 0; i < this.outbox.length; i++) if (this.outbox[i].id === id) return this.outbox[i];
    return null;
  };

  /** An item is done: acknowledged, or refused (then marked `failed` for the handlers to show). */
  Client.prototype.settle = function (id, ack, error) {
    var item = this.find(id);
    this.outbox = this.outbox.filter(function (x) { return x.id !== id; });
    store(this.key + ":outbox", this.outbox);
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
    store(this.key + ":outbox", this.outbox);
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

  /** Queue an action; it is sent now if the socket is live, else when it is. Returns its id. */
  Client.prototype.send = function (type, data) {
    var item = { id: uuid4(), type: type, data: data, at: new Date().toISOString() };
    this.outbox.push(item);
    store(this.key + ":outbox", this.outbox);
    if (this.live) this.raw({ type: type, id: item.id, data: data });
    this.setState(this.state);
    return item.id;
  };

  Client.prototype.pending = function () { return this.outbox.length; };

  function ago(iso, s) {
    var minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (!(minutes >= 1)) return s.ago_now;
    if (minutes < 60) return fmt(s.ago_min, { n: minutes });
    return fmt(s.ago_h, { n: Math.floor(minutes / 60) });
  }

  /** A node showing `text` as it is. Leaflet parses a string given as an icon's `html` or as a
   * tooltip as HTML, and every text here may come from a participant: they all get one of these. */
  function plain(text, className) {
    return el("span", { class: className || "fo-text", text: text === null || text === undefined ? "" : String(text) });
  }

  /* ------------------------------------------------------------------------------------------ */

  /** One line of text for a journal entry, for the feeds and toasts. Unknown kinds still show. */
  function describe(entry, s, groupName) {
    var d = entry.data || {};
    var who = d.callsign || d.reporter || d.observer || d.sender || d.by || "";
    switch (entry.type) {
      case "checkin": return who + ": " + d.status + (d.note ? " — " + d.note : "");
      case "incident.reported": return (d.kind === "sos" ? "SOS " : "") + d.kind + " (" + d.severity + ") " + (d.reporter ? "· " + d.reporter : "") + (d.description ? " — " + d.description : "");
      case "incident.updated": return "#" + d.incident + " " + d.kind + " → " + d.status + (d.by ? " · " + d.by : "") + (d.note ? " — " + d.note : "");
      case "sos.raised": return "SOS · " + who + (d.description ? " — " + d.description : "");
      case "arrest.logged": return s.arrests + ": " + d.people_count + " " + s.people + (d.agency ? " · " + d.agency : "") + (d.observer ? " · " + d.observer : "");
      case "route.published": return s.route_changed + " v" + d.version + (groupName(d.group) ? " · " + groupName(d.group) : "") + (d.note ? " — " + d.note : "");
      case "route.acked": return who + " ✓ v" + d.version;
      case "alert.sent": return d.text;
      case "participant.joined": return "+ " + (d.callsign || "") + " (" + d.role + ")";
      case "participant.revoked": return "− " + (d.callsign || "") + " (" + d.role + ")";
      case "marshal.overdue": return who + ": " + fmt(s.overdue, { n: Math.round(d.silent_minutes) });
      case "marshal.back": return who + ": " + s.back;
      case "marshal.off_route": return who + ": " + fmt(s.off_route, { d: Math.round(d.distance_m) });
      case "marshal.on_route": return who + ": " + s.on_route;
      case "zone.activated": return s.zone_on + ": " + d.name;
      case "zone.deactivated": return s.zone_off + ": " + d.name;
      case "sos.nearby": return "SOS · " + d.sender + " · " + fmt(s.away, { d: Math.round(d.distance_m), dir: d.direction });
      default:
        if (d.text) return (who ? who + ": " : "") + d.text;
        return who || JSON.stringify(d).slice(0, 120);
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
      var label = { live: s.live, connecting: s.connecting, reconnecting: s.reconnecting, offline: s.offline, stopped: message || s.offline }[state] || state;
      var text = label + (pending ? " · " + fmt(s.waiting, { n: pending }) : "");
      bar.textContent = text;
      bar.className = "fo-state fo-state-" + state;
      bar.setAttribute("data-state", state);
      bar.setAttribute("data-pending", String(pending));
    };
  }

  /** A short message at the bottom of the screen; refusals stay until tapped. */
  function toast(text, level) {
    var box = document.getElementById("fo-toasts");
    if (!box) return;
    var node = el("div", { class: "fo-toast fo-toast-" + (level || "info"), role: level === "danger" ? "alert" : "status", text: text });
    node.addEventListener("click", function () { node.remove(); });
    box.appendChild(node);
    if (level !== "danger") setTimeout(function () { node.remove(); }, 6000);
  }

  /** Start a page: config, connection bar, client; `entry` gets every journal entry. */
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
    toast: toast,
    fmt: fmt,
    plain: plain,
    el: el,
    ago: ago,
    uuid4: uuid4,
    csrfToken: csrfToken,
  };
})();
