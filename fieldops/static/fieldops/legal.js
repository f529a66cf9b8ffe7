/* Legal observer page: a one-handed arrest form, the arrests logged at the event (each readable in
 * full, a read the server records), incidents and messages, and an SOS.
 *
 * The arrest is recorded where the observer's GPS says, until they tap the map where it happened:
 * that place gets its own marker, and the label always says which of the two will be recorded.
 * Its time is the time of logging, unless the observer changed the field.
 */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  var positionText = document.getElementById("position");
  var placeText = document.getElementById("arrest-place");
  var placeReset = document.getElementById("arrest-place-reset");
  var form = document.getElementById("arrest-form");
  var list = document.getElementById("arrests");
  var feed = document.getElementById("feed");
  var sos;
  var tapped = null; // where the observer tapped the map, if they did: the arrest place
  var tappedMarker = null;

  var position = new F.Position(fmap, s, function (p) {
    positionText.textContent = position.describe();
    describePlace();
    sos.moved(p);
  }, { tap: false });
  sos = new F.Sos(cfg, position, function () { return position.current || tapped; });

  function arrestPlace() { return tapped || position.current; }

  function describePlace() {
    if (tapped) placeText.textContent = s.arrest_at_tap;
    else if (position.current) placeText.textContent = F.fmt(s.arrest_at_gps, { m: position.current.accuracy_m });
    else placeText.textContent = s.arrest_at_none;
    placeReset.hidden = !(tapped && position.current);
  }

  function clearTap() {
    tapped = null;
    if (tappedMarker) { fmap.map.removeLayer(tappedMarker); tappedMarker = null; }
    describePlace();
  }

  fmap.map.on("click", function (ev) {
    tapped = { lat: ev.latlng.lat, lng: ev.latlng.lng };
    if (tappedMarker) tappedMarker.setLatLng(ev.latlng);
    else tappedMarker = L.marker(ev.latlng, {
      icon: L.divIcon({ className: "fo-arrest-here-icon", html: F.plain("✕", "fo-arrest-here"), iconSize: [40, 40], iconAnchor: [20, 20] }),
      keyboard: false,
      zIndexOffset: 800,
    }).addTo(fmap.map);
    describePlace();
  });
  placeReset.addEventListener("click", clearTap);
  describePlace();

  /* --- the time: now, kept current until the observer edits it ----------------------------- */
  var timeEdited = false;
  function localNow() {
    var d = new Date();
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    return d.toISOString().slice(0, 16);
  }
  function freshTime() { if (!timeEdited) form.occurred_at.value = localNow(); }
  form.occurred_at.addEventListener("input", function () { timeEdited = true; });
  setInterval(freshTime, 15000);
  freshTime();

  /* --- arrests ------------------------------------------------------------------------------ */
  function summaryText(a) {
    return F.plural(s.people_n, a.people_count) + (a.agency ? " · " + a.agency : "") + (a.force_used ? " · " + s.force_used : "") + (a.medical_needs ? " · " + s.medical_needs : "");
  }

  function showArrest(a) {
    if (list.querySelector('[data-arrest="' + a.arrest + '"]')) return;
    fmap.addArrest(a);
    var open = F.el("button", { type: "button", class: "fo-arrest-item", "aria-controls": "arrest-detail" }, [
      F.el("div", { text: summaryText(a) }),
      F.el("div", { class: "meta", text: new Date(a.occurred_at).toLocaleString() + (a.observer ? " · " + a.observer : "") }),
    ]);
    open.addEventListener("click", function () { readBack(a.arrest); });
    var li = F.el("li", { "data-arrest": a.arrest, "data-at": a.occurred_at }, [open]);
    // Newest arrest first, whatever order they arrive in.
    var items = list.children, i = 0;
    while (i < items.length && items[i].getAttribute("data-at") > a.occurred_at) i++;
    list.insertBefore(li, items[i] || null);
    var c = fmap.arrestCount();
    document.getElementById("arrest-total").textContent = "(" + c.records + " · " + F.plural(s.people_n, c.people) + ")";
  }
  (cfg.arrests || []).forEach(showArrest);

  /* --- reading a record back: labels are the form's own, already in the page's language ------ */
  var detail = document.getElementById("arrest-detail");
  var detailBody = document.getElementById("arrest-detail-body");
  var DETAIL_FIELDS = ["people_count", "agency", "arrestee_description", "officers", "dispersal_details", "force_details", "stated_reason", "vehicle", "taken_to", "welfare_notes", "witnesses", "notes"];

  function labelOf(name) {
    var label = form.querySelector('label[for="' + name + '"]');
    return label ? label.textContent.trim() : name;
  }

  function row(term, value) {
    detailBody.appendChild(F.el("dt", { text: term }));
    detailBody.appendChild(F.el("dd", { text: value }));
  }

  function readBack(id) {
    detail.hidden = false;
    detailBody.textContent = "";
    detailBody.appendChild(F.el("dd", { text: s.loading }));
    detail.querySelector("h2").focus();
    fetch(cfg.api + "/arrests/" + encodeURIComponent(id), { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (rec) {
        detailBody.textContent = "";
        if (!r.ok) { row(s.refused, rec.message || String(r.status)); return; }
        detail.setAttribute("data-arrest", rec.arrest);
        row(s.arrest_record, new Date(rec.occurred_at).toLocaleString() + (rec.observer ? " · " + rec.observer : ""));
        row(labelOf("dispersal_order"), F.label("dispersal", rec.dispersal_order));
        ["force_used", "medical_needs"].forEach(function (name) {
          if (rec[name]) row(form[name].closest("label").textContent.trim(), "✓");
        });
        DETAIL_FIELDS.forEach(function (name) {
          var v = rec[name];
          if (v !== null && v !== undefined && v !== "") row(labelOf(name), String(v));
        });
        if (rec.purged) row(s.arrest_record, s.purged);
      });
    }).catch(function () { detailBody.textContent = ""; row(s.offline, ""); });
  }
  document.getElementById("arrest-detail-close").addEventListener("click", function () { detail.hidden = true; });

  /* --- the socket ---------------------------------------------------------------------------- */
  function insertBySeq(li, seq) {
    var items = feed.children;
    for (var i = 0; i < items.length; i++) {
      if (+items[i].getAttribute("data-seq") < seq) { feed.insertBefore(li, items[i]); return; }
    }
    feed.appendChild(li);
  }

  /** A route version older than the one on the map (history): it never replaces the map's. */
  function olderRoute(entry) {
    var d = entry.data || {};
    if (entry.type !== "route.published") return false;
    var line = fmap.routes[d.group === null || d.group === undefined ? "event" : String(d.group)];
    return !!line && line.fieldops.version > d.version;
  }

  var client = F.boot({
    entry: function (entry) {
      sos.entry(entry);
      if (!olderRoute(entry)) fmap.apply(entry);
      if (entry.type === "arrest.logged") { showArrest(entry.data); return; }
      if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
      insertBySeq(F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type }, [
        F.el("div", { text: F.describe(entry, s, function (g) { return fmap.groupName(g); }) }),
        F.el("div", { class: "meta", text: F.label("entry", entry.type) + " · " + new Date(entry.at).toLocaleTimeString() }),
      ]), entry.seq);
    },
    ack: function (item, ack) {
      if (sos.ack(item, ack) || item.type === "incident.update") return;
      F.toast(s.sent, "info");
    },
    state: function () { sos.show(); },
  }).client;
  sos.attach(client);

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = arrestPlace();
    if (!p) { F.toast(s.arrest_at_none, "warning"); return; }
    var data = { lat: p.lat, lng: p.lng, people_count: parseInt(form.people_count.value, 10) || 1 };
    // The time of logging, unless the observer set another: a form opened long ago is not stale.
    data.occurred_at = timeEdited && form.occurred_at.value ? new Date(form.occurred_at.value).toISOString() : new Date().toISOString();
    ["agency", "dispersal_details", "arrestee_description", "officers", "force_details", "stated_reason", "vehicle", "taken_to", "welfare_notes", "witnesses", "notes"].forEach(function (name) {
      var v = form[name].value.trim();
      if (v) data[name] = v;
    });
    data.dispersal_order = form.dispersal_order.value;
    data.force_used = form.force_used.checked;
    data.medical_needs = form.medical_needs.checked;
    var id = client.send("arrest.log", data);
    if (!id) return;
    if (!client.live) F.toast(s.queued, "warning");
    form.reset();
    timeEdited = false;
    freshTime();
    clearTap();
  });

  document.getElementById("incident-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = position.current || tapped;
    if (!p) { F.toast(s.no_position, "warning"); return; }
    var id = client.send("incident.report", { lat: p.lat, lng: p.lng, kind: this.kind.value, severity: this.severity.value, description: this.description.value });
    if (!id) return;
    this.description.value = "";
    if (!client.live) F.toast(s.queued, "warning");
  });

  window.FO = Object.assign(window.FO || {}, { map: fmap, position: position, sos: sos });
})();
