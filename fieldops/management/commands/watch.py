import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from fieldops.watch import MAX_SLEEP_SECONDS, watch_interval, watch_loop, watch_sweep


class Command(BaseCommand):
    help = (
        "Run the overdue watch and route-acknowledgement reminders: a loop (or one sweep with "
        "--once). Safe to run in several processes at once; see docs/safety.md."
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
        watch_loop(stop=stop, interval=every, on_sweep=self.report)
        self.stdout.write("Watch stopped.")

    def report(self, result) -> None:
        for entry in result.overdue + result.reminders:
            self.stdout.write(f"  event {entry.event_id} #{entry.seq} {entry.kind}")
        self.stdout.flush()
