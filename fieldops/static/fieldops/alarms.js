/* Alarms (docs/safety.md, "Alarms"): what needs a person, who is on it, and the two buttons that
 * say so. Shared by the command page and the marshal and medic page. The server decides who may
 * claim or resolve (services/safety/alarms.py); the page only offers the buttons that would pass. */
import { html, render } from "../vendor/lit-html/lit-html.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { fmt } from "./util.js";

const CLAIMANTS = ["organizer", "marshal", "medic"];
const sending = {}; // "alarm:verb" sent and not yet answered

function what(d, s) {
  const who = d.callsign || "";
  if (d.subject === "incident") return fmt(s.alarm_incident, { n: d.incident });
  return fmt(s["alarm_" + d.subject] || d.text, { who: who });
}

function send(page, d, verb) {
  const id = page.client.send(verb, { alarm: d.alarm });
  if (id === null) return;
  sending[d.alarm + ":" + verb] = true;
  page.redraw();
}

/** An answer (ack or error) to a claim or resolve this module sent: the button may be used again. */
export function alarmAnswered(item) {
  if (item.type !== "alarm.claim" && item.type !== "alarm.resolve") return false;
  delete sending[item.data.alarm + ":" + item.type];
  return true;
}

/** Draw the open alarms, oldest first, into `node`. */
export function drawAlarms(page, state, node, reveal) {
  const s = page.s, me = state.me;
  const open = Object.values(state.alarms).sort((a, b) => a.alarm - b.alarm);
  const button = (d, verb, text) => html`<button type="button" data-action=${verb}
      ?disabled=${!!sending[d.alarm + ":" + verb]} @click=${(ev) => { ev.stopPropagation(); send(page, d, verb); }}>${text}</button>`;
  render(repeat(open, (d) => d.alarm, (d) => {
    const mayClaim = !d.claimed_by && CLAIMANTS.indexOf(me.role) >= 0 && d.participant !== me.participant;
    const mayResolve = me.role === "organizer" || (d.claimed_by && d.claimed_by === me.callsign);
    return html`<li class="fo-alarm level-${d.claimed_by ? "warning" : "danger"}" data-alarm=${d.alarm} data-step=${d.step}
        data-claimed=${d.claimed_by || ""} @click=${() => reveal && reveal(d)}>
      <div class="fo-alarm-what">${what(d, s)}</div>
      <div class="meta">${d.claimed_by ? fmt(s.alarm_claimed, { who: d.claimed_by }) : d.step ? fmt(s.alarm_escalated, { n: d.step }) : s.alarm_nobody}</div>
      <div class="actions">${mayClaim ? button(d, "alarm.claim", s.alarm_claim) : ""}${mayResolve ? button(d, "alarm.resolve", s.alarm_resolve) : ""}</div></li>`;
  }), node);
  node.hidden = !open.length;
}
