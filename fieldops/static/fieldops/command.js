/* Command page (organizers): the live map, feed, incidents, route drawing, alerts, invites, audit. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  var map = fmap.map;
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  (cfg.arrests || []).forEach(function (a) { fmap.addArrest(a); });

  var feed = document.getElementById("feed");
  var incidentList = document.getElementById("incidents");
  var filterKind = document.getElementById("filter-kind");
  var filterGroup = document.getElementById("filter-group");
  var kindsSeen = {};

  function groupName(g) { return fmap.groupName(g); }

  /* --- counts ------------------------------------------------------------------------------ */
  function counts() {
    var sos = 0, open = 0;
    Object.keys(fmap.incidents).forEach(function (k) { if (fmap.incidents[k].fieldops.kind === "sos") sos++; else open++; });
    var sosBox = document.getElementById("count-sos");
    sosBox.hidden = sos === 0;
    sosBox.textContent = s.sos + ": " + sos;
    document.getElementById("count-incidents").textContent = s.open_incidents + ": " + open;
    var a = fmap.arrestCount();
    document.getElementById("count-arrests").textContent = s.arrests + ": " + a.records + " (" + a.people + " " + s.people + ")";
    document.getElementById("count-marshals").textContent = s.marshals + ": " + Object.keys(fmap.positions).length;
  }

  /* --- incidents ---------------------------------------------------------------------------- */
  function incidentItem(i) {
    var existing = incidentList.querySelector('[data-incident="' + i.incident + '"]');
    if (existing) existing.remove();
    if (i.status === "resolved" || i.status === "dismissed") return;
    var level = i.kind === "sos" || i.severity === "high" || i.severity === "critical" ? "danger" : i.severity === "medium" ? "warning" : "info";
    var actions = F.el("div", { class: "actions" });
    if (i.status === "reported") actions.appendChild(F.el("button", { type: "button", "data-action": "acknowledged", text: s.acknowledge }));
    actions.appendChild(F.el("button", { type: "button", "data-action": "resolved", text: s.resolve }));
    actions.appendChild(F.el("button", { type: "button", class: "secondary", "data-action": "dismissed", text: s.dismiss }));
    actions.addEventListener("click", function (ev) {
      var status = ev.target.getAttribute("data-action");
      if (!status) return;
      ev.target.disabled = true;
      client.send("incident.update", { incident: i.incident, status: status });
    });
    var li = F.el("li", { class: "level-" + level, "data-incident": i.incident, "data-status": i.status }, [
      F.el("div", { text: "#" + i.incident + " " + (i.kind === "sos" ? "SOS" : i.kind) + " · " + i.severity + " · " + i.status + (i.description ? " — " + i.description : "") }),
      F.el("div", { class: "meta", text: (i.reporter || "") }),
      actions,
    ]);
    li.addEventListener("dblclick", function () { map.setView([i.lat, i.lng], 17); });
    if (i.kind === "sos") incidentList.insertBefore(li, incidentList.firstChild);
    else incidentList.appendChild(li);
  }
  Object.keys(fmap.incidents).forEach(function (k) { incidentItem(fmap.incidents[k].fieldops); });

  /* --- feed --------------------------------------------------------------------------------- */
  function visible(li) {
    var k = filterKind.value, g = filterGroup.value;
    return (!k || li.getAttribute("data-kind") === k) && (!g || li.getAttribute("data-group") === g);
  }
  function refilter() { feed.querySelectorAll("li").forEach(function (li) { li.hidden = !visible(li); }); }
  filterKind.addEventListener("change", refilter);
  filterGroup.addEventListener("change", refilter);

  function addFeed(entry) {
    if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
    var d = entry.data || {};
    if (!kindsSeen[entry.type]) {
      kindsSeen[entry.type] = true;
      filterKind.appendChild(F.el("option", { value: entry.type, text: entry.type }));
    }
    var li = F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type, "data-group": d.group === null || d.group === undefined ? "" : String(d.group) }, [
      F.el("div", { text: F.describe(entry, s, groupName) }),
      F.el("div", { class: "meta", text: entry.type + " · #" + entry.seq + " · " + new Date(entry.at).toLocaleTimeString() + (groupName(d.group) ? " · " + groupName(d.group) : "") }),
    ]);
    li.hidden = !visible(li);
    // Newest first: entries arrive in seq order, so each new one goes on top.
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 500) feed.removeChild(feed.lastChild);
  }

  /* --- the socket ---------------------------------------------------------------------------- */
  var client = F.boot({
    entry: function (entry) {
      fmap.apply(entry);
      var d = entry.data || {};
      if (entry.type === "incident.reported" || entry.type === "incident.updated" || entry.type === "sos.raised") incidentItem(d);
      if (entry.type === "sos.raised" || (entry.type === "incident.reported" && d.kind === "sos")) F.toast("SOS · " + (d.reporter || ""), "danger");
      addFeed(entry);
      counts();
    },
    ack: function (item) { if (item.type !== "incident.update") F.toast(s.sent, "info"); },
    error: function (frame, item) {
      if (item && item.type === "incident.update") incidentList.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    },
  }).client;
  counts();
  fmap.onAges = counts;

  /* --- route drawing: route_editor.js ------------------------------------------------------ */
  var drawn = F.RouteEditor(fmap, function (data) { client.send("route.publish", data); });

  /* --- alerts -------------------------------------------------------------------------------- */
  document.getElementById("alert-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    client.send("alert.send", { text: this.text.value, audience: this.audience.value, level: this.level.value });
    this.text.value = "";
  });

  /* --- people: list them, revoke one, or one of their devices (REST, session + CSRF) --------- */
  function postJson(path, body, done) {
    fetch(cfg.api + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": F.csrfToken(), "Idempotency-Key": F.uuid4() },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (reply) {
        if (!r.ok) F.toast(s.refused + ": " + (reply.message || r.status), "danger");
        done();
      });
    }).catch(function () { F.toast(s.offline, "danger"); });
  }

  function deviceItem(d, reload) {
    var used = d.last_used_at ? F.fmt(s.last_used, { t: F.ago(d.last_used_at, s) }) : s.never_used;
    var li = F.el("li", { "data-device": d.device, "data-revoked": d.revoked ? "1" : "0" }, [
      F.el("div", { text: (d.label || "#" + d.device) + " · " + used + (d.revoked ? " · ✕" : "") }),
    ]);
    if (!d.revoked) {
      li.appendChild(F.el("div", { class: "actions" }, [F.el("button", {
        type: "button", class: "danger", text: s.revoke,
        onclick: function () { if (window.confirm(s.device_revoke_confirm)) postJson("/device-revocations", { device: d.device }, reload); },
      })]));
    }
    return li;
  }

  function loadDevices(p, box) {
    fetch(cfg.api + "/participants/" + encodeURIComponent(p.participant) + "/devices", { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (reply) {
        if (!r.ok) { F.toast(s.refused + ": " + (reply.message || r.status), "danger"); return; }
        box.textContent = "";
        if (!reply.length) box.appendChild(F.el("li", { text: s.no_devices }));
        reply.forEach(function (d) { box.appendChild(deviceItem(d, function () { loadDevices(p, box); })); });
      });
    }).catch(function () { F.toast(s.offline, "danger"); });
  }

  function loadPeople() {
    fetch(cfg.api + "/participants", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (people) {
      var list = document.getElementById("people");
      list.textContent = "";
      people.forEach(function (p) {
        var li = F.el("li", { "data-participant": p.participant }, [F.el("div", { text: p.callsign + " · " + p.role + (groupName(p.group) ? " · " + groupName(p.group) : "") + (p.revoked ? " · ✕" : "") })]);
        if (!p.revoked && p.participant !== cfg.participant) {
          var devices = F.el("ul", { class: "fo-devices" });
          var revoke = F.el("button", { type: "button", class: "danger", text: s.revoke, onclick: function () {
            if (!window.confirm(s.revoke_confirm)) return;
            var withInvite = document.getElementById("revoke-invite").checked;
            postJson("/revocations", { participant: p.participant, revoke_invite: withInvite }, loadPeople);
          } });
          var show = F.el("button", { type: "button", class: "secondary", "data-action": "devices", text: s.devices, onclick: function () { loadDevices(p, devices); } });
          li.appendChild(F.el("div", { class: "actions" }, [show, revoke]));
          li.appendChild(devices);
        }
        list.appendChild(li);
      });
    }).catch(function () { F.toast(s.offline, "danger"); });
  }
  document.getElementById("people-load").addEventListener("click", loadPeople);

  /* --- audit: reads of personal data and admin changes, by id and field name (REST) ----------- */
  function auditItem(e) {
    var who = e.callsign || (e.participant ? "#" + e.participant : "admin #" + e.user);
    var what = e.action + " · " + e.model + " #" + e.object_id + (e.fields.length ? " · " + e.fields.join(", ") : "");
    var meta = new Date(e.at).toLocaleString() + " · " + who + " · " + e.via + (e.bulk_action ? " · " + e.bulk_action : "");
    return F.el("li", { "data-audit": e.id, "data-action": e.action }, [F.el("div", { text: what }), F.el("div", { class: "meta", text: meta })]);
  }
  function loadAudit() {
    fetch(cfg.api + "/audit", { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { F.toast(s.refused + ": " + (body.message || r.status), "danger"); return; }
        var list = document.getElementById("audit");
        list.textContent = "";
        body.entries.forEach(function (e) { list.appendChild(auditItem(e)); });
      });
    }).catch(function () { F.toast(s.offline, "danger"); });
  }
  document.getElementById("audit-load").addEventListener("click", loadAudit);

  window.FO = Object.assign(window.FO || {}, { map: fmap, drawn: drawn });
})();
