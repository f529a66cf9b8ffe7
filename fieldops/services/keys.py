"""Rotating the master key (docs/deployment.md, "Rotating the master key").

With a new master key first in FIELD_ENCRYPTION_KEYS and the old ones after it, everything the old
ones encrypted is encrypted again with the new one: every event's wrapped data key, and every value
sealed with the master key itself before data keys existed (arrest records of older versions). Values
sealed with a data key need nothing: data keys do not change.

Each row is rewritten by one statement of its own, and only if it still holds what was read: an
interrupted run loses nothing (the old key still opens what was not done yet), and running it again
finishes the job. A run that changes nothing proves that the old keys may be removed.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Model, TextField
from django.db.models.functions import Cast

from fieldops import crypto
from fieldops.models import EventKey

_BATCH = 500


@dataclass
class Column:
    """One column holding master-key tokens."""

    model: type[Model]
    name: str

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.name}"


@dataclass
class Rotation:
    """What a run found and did, per column label: rows encrypted again (or, with `check`, that
    still need an old key) and rows that no configured key opens."""

    rotated: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)


def master_key_columns() -> list[Column]:
    """The wrapped data keys, then every encrypted field of every model."""
    columns = [Column(EventKey, "wrapped")]
    for model in apps.get_models():
        columns += [
            Column(model, f.name)
            for f in model._meta.concrete_fields
            if isinstance(f, crypto.EncryptedTextField)
        ]
    return columns


def _tokens(column: Column) -> Iterator[tuple[object, str]]:
    """(pk, stored text) of every row whose column holds a master-key token, in batches by pk."""
    after = None
    while True:
        query = column.model._default_manager.filter(
            **{f"{column.name}__startswith": crypto.TOKEN_START}
        )
        if after is not None:
            query = query.filter(pk__gt=after)
        raw = Cast(column.name, TextField())
        rows = list(query.order_by("pk").annotate(raw=raw).values_list("pk", "raw")[:_BATCH])
        yield from rows
        if len(rows) < _BATCH:
            return
        after = rows[-1][0]


def master_key_rotate(*, check: bool = False, progress: Callable[[str], None]) -> Rotation:
    """Encrypt every master-key token with the first master key, one row at a time (with `check`,
    only count those that need it). `progress` gets a line per column and every 500 rows."""
    result = Rotation()
    for column in master_key_columns():
        rotated = unreadable = seen = 0
        manager = column.model._default_manager
        for pk, stored in _tokens(column):
            seen += 1
            try:
                new = crypto.master_rotate(stored)
            except ValueError:
                unreadable += 1
                continue
            if new is not None and not check:
                # Only if nobody changed the row since it was read.
                rotated += manager.filter(pk=pk, **{column.name: crypto.Stored(stored)}).update(
                    **{column.name: crypto.Stored(new)}
                )
            elif new is not None:
                rotated += 1
            if seen % _BATCH == 0:
                progress(f"{column.label}: {seen} read, {rotated} rotated so far")
        result.rotated[column.label] = rotated
        result.unreadable[column.label] = unreadable
        if seen:
            verb = "to rotate" if check else "rotated"
            line = f"{column.label}: {seen} encrypted with a master key, {rotated} {verb}"
            progress(line + (f", {unreadable} unreadable" if unreadable else ""))
    return result
