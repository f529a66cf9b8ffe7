/* Command page (organizers): the live map, triage panels, people, feed, incidents, route drawing,
 * alerts, invites, audit. The standing state (who is overdue, off route, in a danger zone, in SOS,
 * who has not confirmed the route) comes from the server with the page (cfg.triage and the map
 * snapshot) and is kept current by the journal entries, replayed ones included: the replay window
 * reaches the present, so applying it in order ends where the server is. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg, { cluster: true });
  var map = fmap.map;
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  (cfg.arrests || []).forEach(function (a) { fmap.addArrest(a); });

  var feed = document.getElementById("feed");
  var incidentList = document.getElementById("incidents");
  var filterKind = document.getElementById("filter-kind");
  var filterGroup = document.getElementById("filter-group");
  var kindsSeen = {};
  var client = null;

  function groupName(g) { return fmap.groupName(g); }
  function key(v) { return String(v); }

  /** Centre the map on a layer, open its tooltip, and bring the map into view on a phone. */
  function reveal(layer) {
    if (!layer) return;
    var box = document.getElementById("map").getBoundingClientRect();
    if (box.bottom < 0 || box.top > window.innerHeight) document.getElementById("map").scrollIntoView({ block: "center" });
    fmap.reveal(layer);
  }

  /* --- the standing state -------------------------------------------------------------------- */
  var triage = cfg.triage || {};
  var people = {}; // participant -> {participant, callsign, role, group, status, at, lat, lng}
  var flags = { overdue: {}, off_route: {}, in_zone: {} };
  var routes = {}; // scope ("event" or group id) -> {route, version, group, pending: {participant: who}}

  (triage.people || []).forEach(function (p) { people[key(p.participant)] = p; });
  (triage.overdue || []).forEach(function (o) { flags.overdue[key(o.participant)] = o; });
  (triage.off_route || []).forEach(function (o) { flags.off_route[key(o.participant)] = o; });
  (triage.in_zone || []).forEach(function (z) { flags.in_zone[key(z.participant)] = z; });
  (triage.routes || []).forEach(function (r) {
    var pending = {};
    r.pending.forEach(function (p) { pending[key(p.participant)] = p; });
    routes[r.group === null ? "event" : key(r.group)] = { route: r.route, version: r.version, group: r.group, pending: pending };
  });

  function person(d) {
    var k = key(d.participant);
    if (!people[k]) people[k] = { participant: d.participant, callsign: d.callsign, role: d.role, group: d.group, status: null, at: null };
    return people[k];
  }

  function forget(participant) {
    var k = key(participant);
    delete people[k];
    Object.keys(flags).forEach(function (f) { delete flags[f][k]; });
    Object.keys(routes).forEach(function (r) { delete routes[r].pending[k]; });
  }

  /** The marshals a new route version is for: its group's, or for the whole march's route every
   * marshal whose group has no route of its own (the server's rule, fieldops/services/safety/acks.py). */
  function routeMarshals(group) {
    return Object.keys(people).map(function (k) { return people[k]; }).filter(function (p) {
      if (p.role !== "marshal") return false;
      if (group !== null && group !== undefined) return p.group === group;
      return !(p.group !== null && p.group !== undefined && routes[key(p.group)]);
    });
  }

  /* Active danger zones' areas, for telling whether a check-in left one (leaving writes no entry). */
  function inside(point, ring) {
    var x = point[0], y = point[1], found = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) found = !found;
    }
    return found;
  }
  function zoneAt(lat, lng) {
    var found = null;
    Object.keys(fmap.places).forEach(function (k) {
      var p = fmap.places[k].fieldops, g = p.geometry || {};
      if (p.kind !== "danger" || found) return;
      var polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      polygons.forEach(function (rings) { if (!found && inside([lng, lat], rings[0])) found = p; });
    });
    return found;
  }

  /** Apply one journal entry to the standing state. */
  function track(entry) {
    var d = entry.data || {}, k = key(d.participant);
    switch (entry.type) {
      case "checkin":
        var p = person(d);
        p.status = d.status; p.at = entry.at; p.lat = d.lat; p.lng = d.lng;
        delete flags.overdue[k];
        if (flags.in_zone[k] && !zoneAt(d.lat, d.lng)) delete flags.in_zone[k];
        break;
      case "participant.joined": if (d.role !== "organizer" && d.role !== "marcher") person(d); break;
      case "participant.changed":
        if (d.role === "organizer" || d.role === "marcher") forget(d.participant);
        else { var c = person(d); c.role = d.role; c.group = d.group; }
        break;
      case "participant.revoked": forget(d.participant); break;
      case "marshal.overdue": if (people[k]) flags.overdue[k] = d; break;
      case "marshal.back": delete flags.overdue[k]; break;
      case "marshal.off_route": if (people[k]) flags.off_route[k] = d; break;
      case "marshal.on_route": delete flags.off_route[k]; break;
      case "marshal.in_zone": if (people[k]) flags.in_zone[k] = d; break;
      case "zone.deactivated":
        Object.keys(flags.in_zone).forEach(function (p) { if (flags.in_zone[p].place === d.place) delete flags.in_zone[p]; });
        break;
      case "route.published":
        var pending = {};
        routeMarshals(d.group).forEach(function (m) { pending[key(m.participant)] = m; });
        routes[d.group === null || d.group === undefined ? "event" : key(d.group)] = { route: d.route, version: d.version, group: d.group, pending: pending };
        break;
      case "route.acked":
        Object.keys(routes).forEach(function (r) { if (routes[r].route === d.route) delete routes[r].pending[k]; });
        break;
    }
  }

  /* --- triage panels ------------------------------------------------------------------------- */
  var panel = null; // the open panel's name, or null
  var chips = document.querySelectorAll("#triage [data-panel]");
  var triageList = document.getElementById("triage-list");

  function openIncidents(sos) {
    return Object.keys(fmap.incidents).map(function (k) { return fmap.incidents[k]; })
      .filter(function (layer) { return (layer.fieldops.kind === "sos") === sos; });
  }

  function pendingAcks() {
    var out = [];
    Object.keys(routes).forEach(function (r) {
      var route = routes[r];
      Object.keys(route.pending).forEach(function (p) { if (people[p]) out.push({ route: route, scope: r, who: people[p] }); });
    });
    return out;
  }

  function personItem(p, detail) {
    return { text: p.callsign + " · " + F.label("role", p.role) + (groupName(p.group) ? " · " + groupName(p.group) : ""), detail: detail, layer: fmap.positions[key(p.participant)], participant: p.participant };
  }

  /** Each panel's items: {text, detail, layer}; a tap on one reveals its layer. */
  var PANELS = {
    sos: function () {
      return openIncidents(true).map(function (layer) {
        var i = layer.fieldops;
        return { text: s.sos + " · " + (i.reporter || "#" + i.incident), detail: F.label("status", i.status) + (i.description ? " — " + i.description : ""), layer: layer, level: "danger" };
      });
    },
    overdue: function () {
      return Object.keys(flags.overdue).filter(function (k) { return people[k]; }).map(function (k) {
        return personItem(people[k], F.fmt(s.overdue, { n: Math.max(0, Math.round((Date.now() - Date.parse(flags.overdue[k].silent_since)) / 60000)) }));
      });
    },
    off_route: function () {
      return Object.keys(flags.off_route).filter(function (k) { return people[k]; }).map(function (k) {
        return personItem(people[k], F.fmt(s.off_route, { d: Math.round(flags.off_route[k].distance_m) }));
      });
    },
    in_zone: function () {
      return Object.keys(flags.in_zone).filter(function (k) { return people[k]; }).map(function (k) {
        return personItem(people[k], s.in_zone + ": " + flags.in_zone[k].name);
      });
    },
    incidents: function () {
      return openIncidents(false).map(function (layer) {
        var i = layer.fieldops;
        return { text: "#" + i.incident + " " + fmap.incidentText(i), detail: "", layer: layer, level: i.severity === "high" || i.severity === "critical" ? "danger" : "warning" };
      });
    },
    routes: function () {
      return pendingAcks().map(function (a) {
        var item = personItem(a.who, F.fmt(s.route_unconfirmed, { v: a.route.version }) + (groupName(a.route.group) ? " · " + groupName(a.route.group) : ""));
        item.layer = fmap.positions[key(a.who.participant)] || fmap.routes[a.scope];
        return item;
      });
    },
  };

  function itemNode(item) {
    var button = F.el("button", { type: "button", class: "fo-tap-button" }, [
      F.el("span", { class: "fo-tap-text", text: item.text }),
      item.detail ? F.el("span", { class: "meta", text: item.detail }) : null,
    ]);
    button.addEventListener("click", function () { reveal(item.layer); });
    var li = F.el("li", { class: "level-" + (item.level || "warning") }, [button]);
    if (item.participant !== undefined) li.setAttribute("data-participant", item.participant);
    return li;
  }

  function renderTriage() {
    chips.forEach(function (chip) {
      var name = chip.getAttribute("data-panel");
      var n = PANELS[name]().length;
      chip.querySelector(".n").textContent = String(n);
      chip.setAttribute("data-count", String(n));
      chip.setAttribute("aria-pressed", String(panel === name));
    });
    triageList.textContent = "";
    triageList.hidden = panel === null;
    if (panel === null) return;
    var items = PANELS[panel]();
    if (!items.length) triageList.appendChild(F.el("li", { class: "fo-empty", text: s.nobody }));
    items.forEach(function (item) { triageList.appendChild(itemNode(item)); });
  }
  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var name = chip.getAttribute("data-panel");
      panel = panel === name ? null : name;
      renderTriage();
    });
  });

  /* --- people: one row per person ------------------------------------------------------------ */
  var peopleRows = document.getElementById("people-rows");
  var search = document.getElementById("people-search");

  function personFlags(k) {
    var out = [];
    openIncidents(true).forEach(function (layer) { if (layer.fieldops.reporter === people[k].callsign && out.indexOf(s.sos) < 0) out.push(s.sos); });
    if (flags.overdue[k]) out.push(s.flag_overdue);
    if (flags.off_route[k]) out.push(s.flag_off_route);
    if (flags.in_zone[k]) out.push(s.in_zone);
    return out;
  }

  function renderPeople() {
    var q = search.value.trim().toLowerCase();
    var rows = Object.keys(people).map(function (k) { return { k: k, p: people[k], flags: personFlags(k) }; });
    rows.sort(function (a, b) { return (b.flags.length - a.flags.length) || a.p.callsign.localeCompare(b.p.callsign); });
    peopleRows.textContent = "";
    rows.forEach(function (r) {
      var p = r.p;
      if (q && p.callsign.toLowerCase().indexOf(q) < 0) return;
      var seen = p.at ? F.fmt(s.last_seen, { t: F.ago(p.at, s) }) : s.no_checkin;
      var status = p.status ? F.label("checkin", p.status) : "";
      var item = personItem(p, [status, seen].concat(r.flags).filter(Boolean).join(" · "));
      item.level = r.flags.length || (p.status && p.status !== "ok") ? "danger" : "info";
      var li = itemNode(item);
      li.setAttribute("data-status", p.status || "");
      li.setAttribute("data-flags", r.flags.length ? "1" : "0");
      peopleRows.appendChild(li);
    });
  }
  search.addEventListener("input", renderPeople);

  /* --- counts -------------------------------------------------------------------------------- */
  function counts() {
    var marshals = 0, medics = 0;
    Object.keys(people).forEach(function (k) { if (people[k].role === "marshal") marshals++; else if (people[k].role === "medic") medics++; });
    var a = fmap.arrestCount();
    document.getElementById("count-arrests").textContent = s.arrests + ": " + a.records + " (" + F.plural(s.people_n, a.people) + ")";
    document.getElementById("count-marshals").textContent = s.marshals + ": " + marshals;
    document.getElementById("count-medics").textContent = s.medics + ": " + medics;
  }

  function refresh() { counts(); renderTriage(); renderPeople(); }

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
      ev.stopPropagation();
      if (!status) return;
      if (client.send("incident.update", { incident: i.incident, status: status }) !== null) ev.target.disabled = true;
    });
    var li = F.el("li", { class: "fo-tap level-" + level, "data-incident": i.incident, "data-status": i.status }, [
      F.el("div", { text: "#" + i.incident + " " + fmap.incidentText(Object.assign({}, i, { description: "", reporter: "" })) + (i.description ? " — " + i.description : "") }),
      F.el("div", { class: "meta", text: i.reporter || "" }),
      actions,
    ]);
    li.addEventListener("click", function () { reveal(fmap.incidents[key(i.incident)]); });
    if (i.kind === "sos") incidentList.insertBefore(li, incidentList.firstChild);
    else incidentList.appendChild(li);
  }
  Object.keys(fmap.incidents).forEach(function (k) { incidentItem(fmap.incidents[k].fieldops); });

  /* --- feed: what happened, newest first; check-ins update the people list instead ------------ */
  function visible(li) {
    var k = filterKind.value, g = filterGroup.value;
    return (!k || li.getAttribute("data-kind") === k) && (!g || li.getAttribute("data-group") === g);
  }
  function refilter() { feed.querySelectorAll("li").forEach(function (li) { li.hidden = !visible(li); }); }
  filterKind.addEventListener("change", refilter);
  filterGroup.addEventListener("change", refilter);

  function feedLayer(entry) {
    var d = entry.data || {};
    if (d.incident !== undefined && fmap.incidents[key(d.incident)]) return fmap.incidents[key(d.incident)];
    if (d.participant !== undefined && fmap.positions[key(d.participant)]) return fmap.positions[key(d.participant)];
    return null;
  }

  function addFeed(entry) {
    if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
    var d = entry.data || {};
    // A check-in that says all is well is only the person's row; one that asks for help is one
    // line per person in the feed, their latest.
    if (entry.type === "checkin") {
      var earlier = feed.querySelector('li[data-kind="checkin"][data-participant="' + d.participant + '"]');
      if (earlier && +earlier.getAttribute("data-seq") > entry.seq) return;
      if (earlier) earlier.remove();
      if (d.status === "ok") return;
    }
    if (!kindsSeen[entry.type]) {
      kindsSeen[entry.type] = true;
      filterKind.appendChild(F.el("option", { value: entry.type, text: F.label("entry", entry.type) }));
    }
    var li = F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type, "data-group": d.group === null || d.group === undefined ? "" : String(d.group) }, [
      F.el("div", { text: F.describe(entry, s, groupName) }),
      F.el("div", { class: "meta", text: F.label("entry", entry.type) + " · " + new Date(entry.at).toLocaleTimeString() + (groupName(d.group) ? " · " + groupName(d.group) : "") }),
    ]);
    if (d.participant !== undefined) li.setAttribute("data-participant", d.participant);
    if (d.incident !== undefined || d.participant !== undefined) {
      li.className += " fo-tap";
      li.addEventListener("click", function () { reveal(feedLayer(entry)); });
    }
    li.hidden = !visible(li);
    // Newest first; a replay may deliver an older entry after newer ones: it goes below them.
    var after = null;
    for (var n = feed.firstChild; n; n = n.nextSibling) if (+n.getAttribute("data-seq") < entry.seq) { after = n; break; }
    feed.insertBefore(li, after);
    while (feed.children.length > 500) feed.removeChild(feed.lastChild);
  }

  /* --- the socket ---------------------------------------------------------------------------- */
  client = F.boot({
    entry: function (entry) {
      fmap.apply(entry);
      track(entry);
      var d = entry.data || {};
      if (entry.type === "incident.reported" || entry.type === "incident.updated" || entry.type === "sos.raised" || entry.type === "sos.updated") incidentItem(d);
      // History rebuilds the lists; only what happens now raises a toast.
      if (!entry.replayed && (entry.type === "sos.raised" || (entry.type === "incident.reported" && d.kind === "sos"))) F.toast(s.sos + " · " + (d.reporter || ""), "danger");
      addFeed(entry);
      refresh();
    },
    ack: function (item) { if (item.type !== "incident.update") F.toast(s.sent, "info"); },
    error: function (frame, item) {
      if (item && item.type === "incident.update") incidentList.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    },
  }).client;
  refresh();
  fmap.onAges = refresh;

  /* --- route drawing: route_editor.js ------------------------------------------------------ */
  var drawn = F.RouteEditor(fmap, function (data) { return client.send("route.publish", data); });

  /* --- alerts -------------------------------------------------------------------------------- */
  document.getElementById("alert-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (client.send("alert.send", { text: this.text.value, audience: this.audience.value, level: this.level.value }) !== null) this.text.value = "";
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
    fetch(cfg.api + "/participants", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (list) {
      var box = document.getElementById("people");
      box.textContent = "";
      list.forEach(function (p) {
        var li = F.el("li", { "data-participant": p.participant }, [F.el("div", { text: p.callsign + " · " + F.label("role", p.role) + (groupName(p.group) ? " · " + groupName(p.group) : "") + (p.revoked ? " · ✕" : "") })]);
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
        box.appendChild(li);
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

  window.FO = Object.assign(window.FO || {}, { map: fmap, drawn: drawn, triage: { people: people, flags: flags, routes: routes } });
})();
