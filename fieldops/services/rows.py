"""One INSERT per row without the ORM's query compiler.

`Model.objects.create()` builds its SQL anew for every row: on the check-in path that compiling cost
more than running the statement (docs/performance.md, "Where the time goes"). `row_insert` writes a
new instance with the statement built once per model and database, and does what `create()` does
for the fields: `pre_save` (so `auto_now_add` stamps and encrypted fields seal as they always do)
and `get_db_prep_save`. It sends no `pre_save`/`post_save` signal: use it only for models nobody
listens to (fieldops/signals.py names the ones that are).
"""

from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField

M = TypeVar("M", bound=Model)
_AUTO = (AutoField, BigAutoField, SmallAutoField)
_statements: dict[tuple[type, str, bool], tuple[str, list]] = {}


def _statement(model: type[Model], connection, *, returning: bool = True) -> tuple[str, list]:
    key = (model, connection.vendor, returning)
    found = _statements.get(key)
    if found is None:
        meta = model._meta
        fields = [f for f in meta.local_concrete_fields if not isinstance(f, _AUTO)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608 - names from the model
        if returning:
            sql += f" RETURNING {quote(meta.pk.column)}"
        found = _statements[key] = (sql, fields)
    return found


def row_insert(instance: M) -> M:
    """Insert a new instance (its primary key set by the database) and return it, saved."""
    # The connection itself, not django.db.connection: every attribute read through that proxy
    # looks the connection up again (an asgiref Local), and preparing a row reads it per field.
    connection = connections[DEFAULT_DB_ALIAS]
    sql, fields = _statement(type(instance), connection)
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def rows_insert_many(instances: list[Model]) -> None:
    """Insert new instances of one model in one `executemany` (PostgreSQL sends them pipelined, in
    one round trip); their primary keys stay unknown."""
    if not instances:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    sql, fields = _statement(type(instances[0]), connection, returning=False)
    params = [
        [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
        for instance in instances
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
