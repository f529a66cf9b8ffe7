"""Print the journal kinds table of docs/protocol.md from the registry, or write it there."""

import typing

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fieldops.services.kinds import KINDS, PUSH_LEVEL_FROM_DATA, Payload

KIND_TABLE_START = "<!-- journal kinds: written by `python manage.py journal_kinds --write` -->"
KIND_TABLE_END = "<!-- end of journal kinds -->"


def _nested(annotation) -> type[Payload] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Payload):
            return candidate
    return None


def _fields(model: type[Payload]) -> str:
    names = []
    for name, info in model.model_fields.items():
        shown = f"`{info.alias or name}`"
        inner = _nested(info.annotation)
        if inner is not None:
            shown += f" ({_fields(inner)})"
        names.append(shown)
    return ", ".join(names)


def _push(push: str | None) -> str:
    if push is None:
        return "no"
    return "at its `level`" if push == PUSH_LEVEL_FROM_DATA else f"`{push}`"


def kind_table() -> str:
    """The Markdown table of every journal kind: its data fields, who receives it and whether it
    is also sent by Web Push (at which level)."""
    lines = ["| kind | data | who receives it | Web Push |", "|---|---|---|---|"]
    for kind in KINDS.values():
        data = _fields(kind.payload) + (f" — {kind.data_note}" if kind.data_note else "")
        lines.append(f"| `{kind.name}` | {data} | {kind.receivers} | {_push(kind.push)} |")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Print the journal kinds table of docs/protocol.md, or --write it into that file."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="Replace the table in the doc.")

    def handle(self, *args, write=False, **options):
        table = kind_table()
        if not write:
            self.stdout.write(table, ending="")
            return
        path = settings.BASE_DIR / "docs" / "protocol.md"
        text = path.read_text()
        if KIND_TABLE_START not in text or KIND_TABLE_END not in text:
            raise CommandError(f"{path} has no {KIND_TABLE_START} ... {KIND_TABLE_END} markers")
        head, rest = text.split(KIND_TABLE_START, 1)
        tail = rest.split(KIND_TABLE_END, 1)[1]
        path.write_text(f"{head}{KIND_TABLE_START}\n{table}{KIND_TABLE_END}{tail}")
        self.stdout.write(f"Wrote {len(KINDS)} kinds to {path}")
