from django.core.management.base import BaseCommand, CommandError

from fieldops.services.keys import master_key_rotate

MSG_DONE = (
    "Everything opens with the first key of FIELD_ENCRYPTION_KEYS: the others may be removed."
)
MSG_PENDING = "{count} value(s) still need an old master key: run `manage.py rotate_keys`."
MSG_UNREADABLE = (
    "{count} value(s) open with none of FIELD_ENCRYPTION_KEYS: put back the key that was removed"
    " and run this again."
)


class Command(BaseCommand):
    help = (
        "After a new master key is put first in FIELD_ENCRYPTION_KEYS: encrypt every event's data "
        "key, and every value encrypted with the master key itself, with it, so the old keys can "
        "be removed. Safe to interrupt and to run again; --check only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="change nothing; exit 1 unless the first key alone opens everything",
        )

    def handle(self, *args, check: bool = False, **options):
        result = master_key_rotate(check=check, progress=self.stdout.write)
        unreadable = sum(result.unreadable.values())
        if unreadable:
            raise CommandError(MSG_UNREADABLE.format(count=unreadable))
        pending = sum(result.rotated.values())
        if check and pending:
            raise CommandError(MSG_PENDING.format(count=pending))
        if not check:
            self.stdout.write(f"Rotated {pending} value(s).")
        self.stdout.write(MSG_DONE)
