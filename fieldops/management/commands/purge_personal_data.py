from django.core.management.base import BaseCommand

from fieldops.services.arrests import arrest_purge_expired


class Command(BaseCommand):
    help = "Blank arrest records' personal data for events whose retention has ended (run hourly)."

    def handle(self, *args, **options):
        count = arrest_purge_expired()
        self.stdout.write(f"Purged personal data from {count} arrest record(s).")
