/* Legal observer page: a one-handed arrest form (time and position prefilled), arrests, incidents. */
(function () {
  "use strict";
  var F = window.Fieldops;
  var cfg = F.config();
  var s = cfg.strings;
  var fmap = new F.FieldMap("map", cfg);
  fmap.load(JSON.parse(document.getElementById("fo-snapshot").textContent));
  var positionText = document.getElementById("position");
  var position = new F.Position(fmap, s, function () { positionText.textContent = position.describe(); });
  var form = document.getElementById("arrest-form");
  var list = document.getElementById("arrests");
  var feed = document.getElementById("feed");

  function localNow() {
    var d = new Date();
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
    return d.toISOString().slice(0, 16);
  }
  form.occurred_at.value = localNow();

  function showArrest(a) {
    if (list.querySelector('[data-arrest="' + a.arrest + '"]')) return;
    fmap.addArrest(a);
    var li = F.el("li", { "data-arrest": a.arrest }, [
      F.el("div", { text: a.people_count + " " + s.people + (a.agency ? " · " + a.agency : "") + (a.force_used ? " · force" : "") + (a.medical_needs ? " · +" : "") }),
      F.el("div", { class: "meta", text: new Date(a.occurred_at).toLocaleString() + (a.observer ? " · " + a.observer : "") }),
    ]);
    list.insertBefore(li, list.firstChild);
    var c = fmap.arrestCount();
    document.getElementById("arrest-total").textContent = "(" + c.records + " · " + c.people + " " + s.people + ")";
  }
  (cfg.arrests || []).slice().reverse().forEach(showArrest);

  F.boot({
    entry: function (entry) {
      fmap.apply(entry);
      if (entry.type === "arrest.logged") { showArrest(entry.data); return; }
      if (feed.querySelector('[data-seq="' + entry.seq + '"]')) return;
      feed.insertBefore(F.el("li", { class: "level-" + F.kindLevel(entry), "data-seq": entry.seq, "data-kind": entry.type }, [
        F.el("div", { text: F.describe(entry, s, function (g) { return fmap.groupName(g); }) }),
        F.el("div", { class: "meta", text: entry.type + " · " + new Date(entry.at).toLocaleTimeString() }),
      ]), feed.firstChild);
    },
    ack: function () { F.toast(s.sent, "info"); },
  });
  var client = window.FO.client;

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = position.current;
    if (!p) { F.toast(s.no_position, "warning"); return; }
    var data = { lat: p.lat, lng: p.lng, people_count: parseInt(form.people_count.value, 10) || 1 };
    if (form.occurred_at.value) data.occurred_at = new Date(form.occurred_at.value).toISOString();
    ["agency", "dispersal_details", "arrestee_description", "officers", "force_details", "stated_reason", "vehicle", "taken_to", "welfare_notes", "witnesses", "notes"].forEach(function (name) {
      var v = form[name].value.trim();
      if (v) data[name] = v;
    });
    data.dispersal_order = form.dispersal_order.value;
    data.force_used = form.force_used.checked;
    data.medical_needs = form.medical_needs.checked;
    client.send("arrest.log", data);
    if (!client.live) F.toast(s.queued, "warning");
    form.reset();
    form.occurred_at.value = localNow();
  });

  document.getElementById("incident-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = position.current;
    if (!p) { F.toast(s.no_position, "warning"); return; }
    client.send("incident.report", { lat: p.lat, lng: p.lng, kind: this.kind.value, severity: this.severity.value, description: this.description.value });
    this.description.value = "";
    if (!client.live) F.toast(s.queued, "warning");
  });

  window.FO = Object.assign(window.FO || {}, { map: fmap, position: position });
})();
