import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fieldops.models import Event
from fieldops.services.retention import personal_data_inventory


def _age(moment, now) -> str:
    if moment is None:
        return "-"
    hours = (now - moment).total_seconds() / 3600
    return f"{moment:%Y-%m-%d %H:%M} UTC ({hours:.0f} h ago)" if hours >= 0 else f"{moment:%c}"


class Command(BaseCommand):
    help = (
        "List what personal data the database holds for an event, by kind: how many records and "
        "how old (never the data itself)."
    )

    def add_arguments(self, parser):
        parser.add_argument("event", help="The event's slug.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, event: str, json: bool = False, **options):
        found = Event.objects.filter(slug=event).first()
        if found is None:
            raise CommandError(f"No event with the slug {event!r}.")
        holdings = personal_data_inventory(event=found)
        if json:
            self.stdout.write(self._as_json(found, holdings))
            return
        now = timezone.now()
        purged = f"{found.purged_at:%Y-%m-%d %H:%M} UTC" if found.purged_at else "not yet"
        self.stdout.write(
            f"Personal data held for {found.slug}: ended {found.ends_at:%Y-%m-%d %H:%M} UTC, "
            f"retention {found.retention_hours} h, purged {purged}."
        )
        self.stdout.write(f"{'kind':<40} {'count':>7}  {'oldest':<33} newest")
        for item in holdings:
            self.stdout.write(
                f"{item.kind:<40} {item.count:>7}  {_age(item.oldest, now):<33} "
                f"{_age(item.newest, now)}"
            )
        total = sum(item.count for item in holdings)
        self.stdout.write(f"Total: {total} record(s) of personal data.")

    @staticmethod
    def _as_json(event, holdings) -> str:
        def moment(value):
            return value.isoformat() if value else None

        return json.dumps(
            {
                "event": event.slug,
                "ends_at": moment(event.ends_at),
                "purged_at": moment(event.purged_at),
                "holdings": [
                    {
                        "kind": item.kind,
                        "count": item.count,
                        "oldest": moment(item.oldest),
                        "newest": moment(item.newest),
                    }
                    for item in holdings
                ],
                "total": sum(item.count for item in holdings),
            }
        )
