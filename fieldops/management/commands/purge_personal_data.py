from django.core.management.base import BaseCommand

from fieldops.services.retention import retention_purge_due


class Command(BaseCommand):
    help = (
        "Erase the personal data of every event whose retention has passed and destroy its data "
        "key; re-wrap the other events' keys with the first master key (run hourly)."
    )

    def handle(self, *args, **options):
        purged, rewrapped, storage = retention_purge_due()
        for result in purged:
            deleted = ", ".join(
                f"{count} {name}" for name, count in result.deleted.items() if count
            )
            self.stdout.write(
                f"{result.event}: deleted {deleted or 'nothing'}; {result.journal_reduced} journal "
                f"entries reduced; {result.tallies} tallies kept; "
                f"{result.keys_destroyed} data key(s) destroyed."
            )
        self.stdout.write(
            f"Purged {len(purged)} event(s); re-wrapped {rewrapped} data key(s); "
            f"storage: {storage}."
        )
