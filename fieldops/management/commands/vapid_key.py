"""Print a new VAPID private key for Web Push (VAPID_PRIVATE_KEY), or the public key of one."""

import sys

from django.core.management.base import BaseCommand, CommandError

from fieldops.services.webpush import vapid_key_generate, vapid_public_key


class Command(BaseCommand):
    help = (
        "Print a new VAPID private key for VAPID_PRIVATE_KEY (Web Push; docs/deployment.md). "
        "With --public, read a private key on standard input and print its public key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--public", action="store_true", help="Print the public key of the key on stdin."
        )

    def handle(self, *args, public: bool = False, **options):
        if not public:
            self.stdout.write(vapid_key_generate())
            return
        try:
            self.stdout.write(vapid_public_key(sys.stdin.read().strip()))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
