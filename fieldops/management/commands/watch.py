import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from fieldops.services.push import push_public_key, push_sweep
from fieldops.watch import MAX_SLEEP_SECONDS, PushLoop, watch_interval, watch_loop, watch_sweep


class Command(BaseCommand):
    help = (
        "Run the overdue watch, route-acknowledgement reminders and Web Push: a loop (or one "
        "sweep with --once). Safe to run in several processes at once; see docs/safety.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help=f"Seconds between sweeps (default FIELDOPS_WATCH_INTERVAL_SECONDS, "
            f"at most {MAX_SLEEP_SECONDS}).",
        )

    def handle(self, *args, once: bool = False, interval: float | None = None, **options):
        if once:
            result = watch_sweep()
            self.report(result)
            if push_public_key() is not None:
                self.report_push(push_sweep())
            return
        if not settings.REDIS_URL:
            self.stderr.write(
                "No REDIS_URL: alerts go to the journal, and reach open sockets only on their next "
                "resume. In the one-process default the server's embedded watch delivers them live."
            )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        every = min(interval or watch_interval(), MAX_SLEEP_SECONDS)
        self.stdout.write(f"Watching every {every:.0f} s; Ctrl-C to stop.")
        pushing = None
        if push_public_key() is not None:
            pushing = PushLoop(on_sweep=self.report_push).start()
            self.stdout.write(f"Pushing every {settings.PUSH_POLL_SECONDS:g} s.")
        else:
            self.stdout.write("Web Push is not set up (VAPID_PRIVATE_KEY): nothing is pushed.")
        watch_loop(stop=stop, interval=every, on_sweep=self.report)
        if pushing is not None:
            pushing.stop()
        self.stdout.write("Watch stopped.")

    def report_push(self, result) -> None:
        if result.entries or result.removed:
            self.stdout.write(
                f"  push: {result.entries} entries, {result.queued} messages queued, "
                f"{result.removed} expired subscriptions removed"
            )
            self.stdout.flush()

    def report(self, result) -> None:
        for entry in result.overdue + result.reminders:
            self.stdout.write(f"  event {entry.event_id} #{entry.seq} {entry.kind}")
        self.stdout.flush()
