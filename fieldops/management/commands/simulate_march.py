from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fieldops.demo import DEMO_SLUG
from fieldops.management.drill import Direct, OverSocket, drill_run
from fieldops.models import Event
from fieldops.services.safety.drill import drill_prepare

EXPECTED = [
    "marshal.overdue",
    "marshal.back",
    "marshal.off_route",
    "marshal.on_route",
    "sos.raised",
    "sos.updated",
    "sos.nearby",
    "zone.activated",
    "marshal.in_zone",
    "zone.deactivated",
    "route.ack_reminder",
    "alarm.opened",
    "alarm.escalated",
    "alarm.claimed",
]


class Command(BaseCommand):
    help = (
        "Walk simulated marshals along the event's route, with check-ins; one goes silent, one "
        "strays, one raises SOS, one forgets to acknowledge a route change. For demos and drills."
    )

    def add_arguments(self, parser):
        parser.add_argument("--event", default=DEMO_SLUG, help="Event slug (default: the demo).")
        parser.add_argument("--marshals", type=int, default=6, help="Simulated marshals (4-30).")
        parser.add_argument("--duration", type=float, default=180, help="Wall-clock seconds.")
        parser.add_argument(
            "--speed", type=float, default=6, help="Walking pace multiplier (1 = 1.2 m/s)."
        )
        parser.add_argument("--tick", type=float, default=3, help="Seconds between check-ins.")
        parser.add_argument(
            "--interval-minutes",
            type=int,
            default=1,
            help="The event's check-in interval during the drill (restored afterwards).",
        )
        parser.add_argument(
            "--escalate-minutes",
            type=int,
            default=1,
            help="Minutes before an unclaimed alarm escalates a step, during the drill (0: at "
            "every sweep; restored afterwards).",
        )
        parser.add_argument(
            "--ack-reminder-seconds",
            type=int,
            default=20,
            help="Reminder delay for route acknowledgements (this process's sweeps only).",
        )
        parser.add_argument(
            "--server",
            default="",
            help="Act over a running server's WebSocket, as phones do (e.g. http://127.0.0.1:8000), "
            "instead of in this process; its own watch then raises overdue alerts and reminders.",
        )

    def handle(self, *args, **opts):
        if not 4 <= opts["marshals"] <= 30:
            raise CommandError("--marshals must be between 4 and 30.")
        if not 5 <= opts["duration"] <= 3600 or not 0.1 <= opts["tick"] <= 60:
            raise CommandError("--duration must be 5-3600 s and --tick 0.1-60 s.")
        if not 0.1 <= opts["speed"] <= 100:
            raise CommandError("--speed must be between 0.1 and 100.")
        event = Event.objects.filter(slug=opts["event"]).first()
        if event is None:
            raise CommandError(f"No event {opts['event']!r}: run `python manage.py demo` first.")
        silence = 0.7 * opts["duration"]
        needed = opts["interval_minutes"] * 60 + settings.FIELDOPS["OVERDUE_GRACE_SECONDS"]
        if silence <= needed:
            self.stderr.write(
                f"Note: the silent marshal is silent {silence:.0f} s, less than the "
                f"{needed} s it takes to be overdue; raise --duration to see the alert."
            )
        actor = (
            OverSocket(base_url=opts["server"], slug=event.slug)
            if opts["server"]
            else Direct(ack_reminder_seconds=opts["ack_reminder_seconds"])
        )
        try:
            self._drill(event, actor, opts)
        finally:
            actor.close()

    def _drill(self, event, actor, opts) -> None:
        before = {
            "checkin_interval_minutes": event.checkin_interval_minutes,
            "alarm_escalate_minutes": event.alarm_escalate_minutes,
        }
        try:
            drill = drill_prepare(
                event=event,
                actor=actor,
                marshals=opts["marshals"],
                interval_minutes=opts["interval_minutes"],
                escalate_minutes=opts["escalate_minutes"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Drill on {event.name!r}: {opts['marshals']} marshals, {opts['duration']:.0f} s at "
            f"{opts['speed']}x pace, check-in interval {opts['interval_minutes']} min; "
            f"route {drill.route_length:.0f} m. "
            + ", ".join(f"{w.participant.callsign} {w.part}" for w in drill.marshals if w.part)
        )
        try:
            counts = drill_run(
                drill=drill,
                actor=actor,
                duration=opts["duration"],
                speed=opts["speed"],
                tick=opts["tick"],
                say=self._say,
            )
        finally:
            Event.objects.filter(pk=event.pk).update(**before)
        self.stdout.write("Entries written during the drill:")
        for kind, count in sorted(counts.items()):
            self.stdout.write(f"  {kind:<20} {count}")
        missing = [kind for kind in EXPECTED if not counts.get(kind)]
        if missing:
            self.stdout.write("Not seen this time (timing or options): " + ", ".join(missing))

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
