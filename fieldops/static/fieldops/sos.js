/* The SOS button of the marshal, medic and legal pages.
 *
 * An SOS is sent only by holding the button until its bar is full (HOLD_MS): a short tap, a brush
 * in a pocket or a scroll that starts on it sends nothing. While it is active it follows the
 * sender: a move of MOVE_M metres or more is sent again (the server turns a resend into
 * `sos.updated`), at most every RESEND_MS, never more than one waiting in the outbox. The sender
 * cancels it with a tap and a confirmation: that resolves it, with a note saying who ended it.
 * The page's config carries the sender's active SOS (`my_sos`), so a reload shows it still active.
 */
import { distance } from "./geo.js";
import { toast } from "./page.js";

const HOLD_MS = 1500; // the same as the fill's transition in field.css
const MOVE_M = 15;
const RESEND_MS = 5000;

/** `locate()`, if given, says where an SOS is raised from (default: this phone's position). */
export function Sos(cfg, position, locate) {
  this.s = cfg.strings;
  this.position = position;
  this.locate = locate || function () { return position.current; };
  this.client = null;
  this.incident = cfg.my_sos ? cfg.my_sos.incident : null;
  this.active = !!cfg.my_sos;
  this.sent = cfg.my_sos ? { lat: cfg.my_sos.lat, lng: cfg.my_sos.lng, at: 0 } : null;
  this.mine = {}; // ids of this page's `sos` sends
  this.ackedSeqs = {}; // seqs of acknowledged `sos` sends whose entry has not arrived yet
  this.entries = {}; // seq -> incident of the SOS entries seen
  this.cancelWanted = false;
  this.button = document.getElementById("sos");
  this.stateLine = document.getElementById("sos-state");
  this.confirmBox = document.getElementById("sos-confirm");
  this.bar = this.button.closest(".fo-actionbar");
  this.timer = null;
  this.resendTimer = null;
  document.getElementById("sos-confirm-text").textContent = this.s.sos_cancel_ask;
  this.yes = document.getElementById("sos-cancel-yes");
  this.keep = document.getElementById("sos-keep");
  this.yes.textContent = this.s.sos_cancel_yes;
  this.keep.textContent = this.s.sos_keep;
  this.wire();
  this.show();
}

Sos.prototype.attach = function (client) { this.client = client; };

Sos.prototype.wire = function () {
  var self = this, b = this.button;
  function start(ev) {
    if (ev.button !== undefined && ev.button > 0) return;
    if (self.active) { self.justRaised = false; return; }
    ev.preventDefault();
    self.holdStart();
  }
  function stop() { self.holdEnd(); }
  b.addEventListener("pointerdown", start);
  b.addEventListener("pointerup", stop);
  b.addEventListener("pointercancel", stop);
  b.addEventListener("pointerleave", stop);
  b.addEventListener("contextmenu", function (ev) { ev.preventDefault(); });
  // A keyboard holds it the same way: Space or Enter down until the bar is full.
  b.addEventListener("keydown", function (ev) {
    if (ev.key !== " " && ev.key !== "Enter") return;
    if (self.active) { self.justRaised = false; return; }
    ev.preventDefault();
    if (!ev.repeat) self.holdStart();
  });
  b.addEventListener("keyup", function (ev) { if (ev.key === " " || ev.key === "Enter") stop(); });
  b.addEventListener("click", function (ev) {
    ev.preventDefault();
    // The release of the hold that raised it is no request to cancel it.
    if (self.justRaised) { self.justRaised = false; return; }
    if (self.active) self.askCancel(true);
  });
  this.yes.addEventListener("click", function () { self.cancel(); });
  this.keep.addEventListener("click", function () { self.askCancel(false); });
};

Sos.prototype.holdStart = function () {
  var self = this;
  if (this.timer || this.button.disabled) return;
  this.button.classList.add("fo-holding");
  this.timer = setTimeout(function () {
    self.timer = null;
    self.justRaised = true;
    self.button.classList.remove("fo-holding");
    self.raise();
  }, HOLD_MS);
};

Sos.prototype.holdEnd = function () {
  if (!this.timer) return;
  clearTimeout(this.timer);
  this.timer = null;
  this.button.classList.remove("fo-holding");
  toast(this.s.sos_hold_hint, "warning");
};

Sos.prototype.raise = function () {
  var p = this.locate();
  if (!p) { toast(this.s.no_position, "warning"); return; }
  if (!this.client) return;
  var id = this.client.send("sos", { lat: p.lat, lng: p.lng });
  if (!id) return; // the page was closed for good (revoked): nothing was queued
  this.mine[id] = true;
  this.active = true;
  this.cancelWanted = false;
  this.sent = { lat: p.lat, lng: p.lng, at: Date.now() };
  this.show();
};

/** The sender moved: send the SOS again from here, if it moved enough and not too often. */
Sos.prototype.moved = function (p) {
  if (!this.active || this.cancelWanted || !this.client || !this.sent) return;
  if (distance(this.sent, p) < MOVE_M) return;
  var self = this, wait = this.sent.at + RESEND_MS - Date.now();
  if (wait > 0 || this.waiting()) {
    clearTimeout(this.resendTimer);
    this.resendTimer = setTimeout(function () { self.moved(self.position.current); }, Math.max(wait, 1000));
    return;
  }
  var id = this.client.send("sos", { lat: p.lat, lng: p.lng });
  if (!id) return;
  this.mine[id] = true;
  this.sent = { lat: p.lat, lng: p.lng, at: Date.now() };
};

/** An SOS of this page still in the outbox: the next is sent once it is acknowledged. */
Sos.prototype.waiting = function () {
  var self = this;
  return this.client.outbox.some(function (item) { return item.type === "sos" && self.mine[item.id]; });
};

Sos.prototype.askCancel = function (open) {
  this.confirmBox.hidden = !open;
  this.fit();
  if (open) this.yes.focus();
};

Sos.prototype.cancel = function () {
  this.confirmBox.hidden = true;
  this.cancelWanted = true;
  clearTimeout(this.resendTimer);
  if (this.incident !== null) this.resolve();
  // Not yet acknowledged: the resolution follows as soon as the SOS has its incident number.
  this.active = false;
  this.show();
};

Sos.prototype.resolve = function () {
  if (this.incident === null || !this.client) return;
  this.client.send("incident.update", { incident: this.incident, status: "resolved", note: this.s.sos_cancel_note });
  this.cancelWanted = false;
};

Sos.prototype.learn = function (incident) {
  this.incident = incident;
  if (this.cancelWanted) this.resolve();
};

/** Journal entries: which incident this page's SOS is, and when it ended (by anyone). */
Sos.prototype.entry = function (entry) {
  var d = entry.data || {};
  if (entry.type === "sos.raised" || entry.type === "sos.updated") {
    this.entries[entry.seq] = d.incident;
    if (this.ackedSeqs[entry.seq]) { delete this.ackedSeqs[entry.seq]; this.learn(d.incident); }
    return;
  }
  if (entry.type === "incident.updated" && d.incident === this.incident && (d.status === "resolved" || d.status === "dismissed")) {
    this.incident = null;
    this.active = false;
    this.cancelWanted = false;
    this.sent = null;
    this.show();
    // Also when its sender cancelled it: this says the server has it, and everyone is told.
    if (!entry.replayed) toast(this.s.sos_ended, "info");
  }
};

Sos.prototype.ack = function (item, ack) {
  if (item.type !== "sos" || !this.mine[item.id]) return false;
  delete this.mine[item.id];
  if (this.entries[ack.seq] !== undefined) this.learn(this.entries[ack.seq]);
  else this.ackedSeqs[ack.seq] = true;
  this.show();
  return true;
};

/** Whether this journal entry is about this page's own SOS (pages skip their alert for it). */
Sos.prototype.isMine = function (d) { return this.incident !== null && d.incident === this.incident; };

Sos.prototype.show = function () {
  var s = this.s;
  this.button.setAttribute("data-state", this.active ? "active" : "idle");
  this.button.querySelector(".fo-sos-label").textContent = this.active ? s.sos_cancel : s.sos;
  this.button.querySelector(".fo-sos-how").hidden = this.active;
  this.stateLine.hidden = !this.active;
  var queued = this.active && this.client && this.waiting() && !this.client.live;
  this.stateLine.textContent = queued ? s.sos_sending : s.sos_active;
  if (!this.active) this.confirmBox.hidden = true;
  this.fit();
};

/** The page's end stays above the bar, whatever the bar holds now. */
Sos.prototype.fit = function () {
  if (this.bar) document.body.style.paddingBottom = this.bar.offsetHeight + "px";
};

