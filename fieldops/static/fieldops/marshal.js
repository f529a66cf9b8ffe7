/* Marshal (and medic) page: check in, report, SOS, the route and places, live alerts. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  var positionText = document.getElementById("position");
  var position = new F.Position(fmap, s, function () { positionText.textContent = position.describe(); });
  var feed = document.getElementById("feed");
  var alerts = document.getElementById("alerts");
  var pendingLabels = {};

  function groupName(g) { return fmap.groupName(g); }

  function addFeed(entry) {
    if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
    var li = F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type }, [
      F.el("div", { text: F.describe(entry, s, groupName) }),
      F.el("div", { class: "meta", text: entry.type + " · " + new Date(entry.at).toLocaleTimeString() }),
    ]);
    feed.insertBefore(li, feed.firstChild);
  }

  function routeAckBox(d) {
    var id = "route-ack-" + d.route;
    if (document.getElementById(id)) return;
    var box = F.el("div", { id: id, class: "fo-alert level-warning", role: "alert" }, [
      F.el("div", { text: s.route_changed + " v" + d.version + (d.note ? " — " + d.note : "") }),
    ]);
    var button = F.el("button", { type: "button", class: "fo-big", "data-route": d.route, text: s.understood });
    button.addEventListener("click", function () {
      pendingLabels[client.send("route.ack", { route: d.route })] = box;
      button.disabled = true;
    });
    box.appendChild(button);
    alerts.insertBefore(box, alerts.firstChild);
  }

  function alertBox(text, level) {
    alerts.insertBefore(F.el("div", { class: "fo-alert level-" + (level || "info"), role: "alert", text: text }), alerts.firstChild);
  }

  (cfg.unacked_routes || []).forEach(routeAckBox);

  var booted = F.boot({
    entry: function (entry) {
      fmap.apply(entry);
      addFeed(entry);
      var d = entry.data || {};
      if (entry.type === "route.published" && (d.group === null || d.group === cfg.group) && cfg.role === "marshal") routeAckBox(d);
      else if (entry.type === "route.ack_reminder") routeAckBox(d);
      else if (entry.type === "route.acked" && d.participant === cfg.participant) {
        var box = document.getElementById("route-ack-" + d.route);
        if (box) box.remove();
      } else if (entry.type === "alert.sent" || entry.type === "marshal.in_zone" || entry.type === "zone.activated") alertBox(d.text, d.level);
      else if (entry.type === "sos.nearby") alertBox(F.describe(entry, s, groupName), "danger");
    },
    ack: function (item) {
      var box = pendingLabels[item.id];
      if (box) { box.remove(); delete pendingLabels[item.id]; }
      if (item.type === "checkin") document.getElementById("last-checkin").textContent = s.sent + " · " + new Date().toLocaleTimeString();
      else F.toast(s.sent, "info");
    },
  });
  var client = booted.client;

  function need() {
    if (position.current) return position.current;
    F.toast(s.no_position, "warning");
    return null;
  }

  function queuedNote() { if (!client.live) F.toast(s.queued, "warning"); }

  document.getElementById("checkin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = need();
    if (!p) return;
    var status = this.querySelector('input[name="status"]:checked').value;
    var data = { lat: p.lat, lng: p.lng, status: status, device_time: new Date().toISOString() };
    if (p.accuracy_m !== null) data.accuracy_m = p.accuracy_m;
    client.send("checkin", data);
    queuedNote();
  });

  document.getElementById("incident-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = need();
    if (!p) return;
    client.send("incident.report", {
      lat: p.lat, lng: p.lng,
      kind: this.kind.value, severity: this.severity.value, description: this.description.value,
    });
    this.description.value = "";
    document.getElementById("report").open = false;
    queuedNote();
  });

  document.getElementById("sos").addEventListener("click", function () {
    var p = need();
    if (!p) return;
    client.send("sos", { lat: p.lat, lng: p.lng });
    queuedNote();
  });

  window.FO = Object.assign(window.FO || {}, { map: fmap, position: position });
})();
