/* Fieldops' Client keeps one WebSocket to /ws/events/<slug>/ alive: every page load replays the
 * last entries the participant may see (`cfg.since`, `?since=` in the connect request) so the
 * page's state is rebuilt, reconnects resume from the seq up to which the page holds everything,
 * with exponential backoff and jitter, and every submission waits in an outbox (store.js) that is
 * resent with the same id until the server acknowledges it (the server answers a repeated id with
 * the original ack). Entries are kept by seq, not by "newer than the highest": a `resume` frame may
 * replay entries older than live ones already shown (docs/protocol.md), and none of them is
 * dropped or delivered twice. When access ends (revoked, or the session is gone) the client erases
 * what it kept for the event (its storage, the offline copy, the push subscription), sends nothing
 * more, and never reconnects. */
import { eraseOffline, requestSync } from "./offline.js";
import { SealedStore, storageForget, wipeEvent } from "./store.js";
import { csrfToken, uuid4 } from "./util.js";

const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_REVOKED = 4403;
const CLOSE_BEHIND = 4408; // the page did not read fast enough: reconnect now and resume
const CLOSE_RESCOPED = 4409; // an organizer changed this participant's role or group
const RETRYABLE = { unavailable: true, rate_limited: true };

export function Client(cfg, handlers) {
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
  // What the service worker needs to send the outbox while the page is closed (Background Sync).
  this.store = new SealedStore(cfg, { api: cfg.api, paths: (cfg.offline || {}).paths, csrf: csrfToken() });
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
  this.erased = Promise.all([wipeEvent(this.cfg.event), eraseOffline(this.cfg)]);
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
  else requestSync(this.cfg); // sent by the service worker if the page is closed before then
  this.setState(this.state);
  return item.id;
};

Client.prototype.pending = function () { return this.outbox.length; };
