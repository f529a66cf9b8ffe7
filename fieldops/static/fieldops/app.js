/* How every page runs: its state starts from the snapshot and config (state.js), each journal
 * entry goes through the one reducer, and after each change the map and the page's own renderer
 * draw the new state. Side effects of live entries (toasts) are the page's `onEntry`, which sees
 * the state before and after. */
import { FieldMap } from "./fieldmap.js";
import { cachedAt, keepRecent, registerWorker, restoreRecent } from "./offline.js";
import { boot, expose } from "./page.js";
import { wirePush } from "./push.js";
import { applyEntry, feed, initialState } from "./state.js";
import { config, snapshot } from "./util.js";

/** The page's offline side (offline.js): its service worker, and its last entries kept on the
 * phone; a page opened from the phone's copy starts from the entries kept with it. */
function offline(page, current, setSave) {
  const cfg = page.cfg, key = page.client.store.key;
  if (cachedAt() !== null) {
    restoreRecent(cfg, key).then((entries) => {
      if (entries.length) page.update((s) => entries.slice().reverse().reduce(applyEntry, s));
    });
  }
  setSave(keepRecent(cfg, key, () => feed(current())));
  const worker = () => registerWorker(cfg, snapshot()).then((reg) => { if (reg) wirePush(cfg, reg); });
  if (document.readyState === "complete") worker();
  else window.addEventListener("load", worker);
}

/** Start a page. `options.render(state)` draws it; `options.onEntry(entry, before, after)` does
 * what only live news does; `ack`, `error` and `state` are the client's handlers. Returns the page:
 * {cfg, s, fmap, client, state(), update(change), redraw()}. */
export function startPage(options) {
  const cfg = config();
  const fmap = new FieldMap("map", cfg, { cluster: !!options.cluster });
  let state = initialState(snapshot(), cfg);
  const page = {
    cfg: cfg,
    s: cfg.strings,
    fmap: fmap,
    client: null,
    state: () => state,
    /** Replace the state by `change(state)` (a pure function, e.g. from state.js) and redraw. */
    update(change) { state = change(state); page.redraw(); },
    redraw() { fmap.sync(state); options.render(state); },
  };
  page.redraw();
  let saveRecent = () => {};
  page.client = boot({
    entry(entry) {
      const before = state;
      state = applyEntry(state, entry);
      if (state === before) return;
      saveRecent();
      page.redraw();
      if (options.onEntry) options.onEntry(entry, before, state);
    },
    ack: options.ack,
    error: options.error,
    state: options.state,
    stopped() { saveRecent(true); },
  });
  offline(page, () => state, (entries) => { saveRecent = entries; });
  fmap.onAges = page.redraw;
  expose({ map: fmap, state: () => state });
  return page;
}
