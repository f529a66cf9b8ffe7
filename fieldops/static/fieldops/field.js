/* What the pages of people in the field share (marshal, medic, legal observer): a position, the
 * SOS button, the incident report form, and the feed under them. */
import { render } from "../vendor/lit-html/lit-html.js";
import { startPage } from "./app.js";
import { feedList } from "./feed.js";
import { expose, toast } from "./page.js";
import { Position } from "./position.js";
import { Sos } from "./sos.js";
import { feed } from "./state.js";

/** Start a field page, drawn first when the caller calls `field.page.redraw()`.
 * `options.locate()` says where a report or an SOS is from (default: this phone's position);
 * `options.tap` false keeps map taps for the page; `render`, `onEntry` and `ack` are the page's
 * own (an `ack` returning true was the page's business). */
export function startFieldPage(options) {
  const feedNode = document.getElementById("feed");
  const positionNode = document.getElementById("position");
  let sos = null;
  let position = null;
  const field = {};
  const page = startPage({
    render(state) {
      if (!field.page) return; // the first drawing waits for the page's parts
      render(feedList(feed(state).filter((e) => !options.feedSkip || !options.feedSkip(e)), field.page.s), feedNode);
      options.render(state);
    },
    onEntry(entry, before, after) {
      sos.entry(entry);
      if (options.onEntry) options.onEntry(entry, before, after);
    },
    ack(item, ack) {
      if (sos.ack(item, ack) || item.type === "incident.update") return;
      if (!(options.ack && options.ack(item, ack))) toast(field.page.s.sent, "info");
    },
    error(frame, item) { if (options.error) options.error(frame, item); },
    state() { if (sos) sos.show(); },
  });
  const locate = options.locate || (() => position.current);
  position = new Position(page.fmap, page.s, (p) => {
    positionNode.textContent = position.describe();
    sos.moved(p);
    if (options.moved) options.moved(p);
    page.redraw();
  }, { tap: options.tap !== false });
  sos = new Sos(page.cfg, position, locate);
  sos.attach(page.client);
  Object.assign(field, { page: page, position: position, sos: sos, locate: locate });

  /** Tell the sender that an action waits on the phone (sent when the connection is back). */
  field.queued = (id) => { if (id && !page.client.live) toast(page.s.queued, "warning"); };

  document.getElementById("incident-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const p = locate();
    if (!p) { toast(page.s.no_position, "warning"); return; }
    const id = page.client.send("incident.report", { lat: p.lat, lng: p.lng, kind: this.kind.value, severity: this.severity.value, description: this.description.value });
    if (!id) return;
    this.description.value = "";
    if (options.reported) options.reported();
    field.queued(id);
  });
  expose({ position: position, sos: sos });
  return field;
}
