/* Marcher page: the route, places, public alerts, and the nearest help measured here, on the phone.
 * The marcher's position is used only in this module: it is never sent anywhere. */
import { render } from "../vendor/lit-html/lit-html.js";
import { startPage } from "./app.js";
import { alertList, feedList } from "./feed.js";
import { compass, measure } from "./geo.js";
import { expose, toast } from "./page.js";
import { Position } from "./position.js";
import { feed } from "./state.js";
import { fmt, label } from "./util.js";

const HELP = ["medic", "exit", "legal", "water"];

/** The nearest active place of each kind of help, from the places this page holds; a shape
 * the measure does not know is skipped, as on the server. */
function nearest(state, here) {
  const found = {};
  Object.values(state.places).forEach((place) => {
    if (HELP.indexOf(place.kind) < 0) return;
    let m;
    try { m = measure(here, place.geometry); } catch (e) { return; }
    if (!found[place.kind] || m.distance_m < found[place.kind].distance_m) found[place.kind] = Object.assign({ name: place.name }, m);
  });
  return found;
}

const nodes = {
  feed: document.getElementById("feed"),
  alerts: document.getElementById("alerts"),
  position: document.getElementById("position"),
};

let page = null;
let position = null;

function draw(state) {
  const s = state && page ? page.s : null;
  if (!s) return;
  render(alertList(state, s), nodes.alerts);
  render(feedList(feed(state), s, { kind: false }), nodes.feed);
  if (!position || !position.current) return;
  const found = nearest(state, position.current);
  document.querySelectorAll("#nearest li").forEach((li) => {
    const best = found[li.getAttribute("data-kind")];
    li.querySelector("span").textContent = best
      ? best.name + " — " + fmt(s.away, { d: Math.round(best.distance_m), dir: label("direction", compass(best.bearing_deg)) })
      : s.nearest_none;
  });
}

page = startPage({
  render: draw,
  onEntry(entry) {
    // History is on the map and in the list; only news is worth interrupting for.
    if (entry.type === "route.published" && !entry.replayed) toast(page.s.route_changed, "warning");
  },
});
position = new Position(page.fmap, page.s, () => {
  nodes.position.textContent = position.describe();
  draw(page.state());
});
draw(page.state());
expose({ position: position, nearest: (here) => nearest(page.state(), here) });
