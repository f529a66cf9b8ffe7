from django.core.management.base import BaseCommand

from fieldops.demo import demo_create


class Command(BaseCommand):
    help = "Create (or recreate) the neutral demo event and print an invite link per role."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, json: bool = False, **options):
        import json as json_module

        result = demo_create()
        if json:
            self.stdout.write(json_module.dumps(result))
            return
        self.stdout.write(self.style.SUCCESS(f"Demo event ready: {result['event']}"))
        for role, invite in result["invites"].items():
            self.stdout.write(f"  {role:<10} {invite['url']}")
        admin = result["admin"]
        self.stdout.write(
            f"  admin      {admin['url']}  user {admin['username']}  password {admin['password']}"
        )
