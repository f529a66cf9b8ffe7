"""One INSERT per row without the ORM's query compiler.

`Model.objects.create()` builds its SQL anew for every row: on the check-in path that compiling cost
more than running the statement (docs/performance.md, "Where the time goes"). `row_insert` writes a
new instance with the statement built once per model and database, and does what `create()` does
for the fields: `pre_save` (so `auto_now_add` stamps and encrypted fields seal as they always do)
and `get_db_prep_save`. It sends no `pre_save`/`post_save` signal: use it only for models nobody
listens to (fieldops/signals.py names the ones that are).
"""

import datetime
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import AutoField, BigAutoField, DateTimeField, Model, SmallAutoField

M = TypeVar("M", bound=Model)
_AUTO = (AutoField, BigAutoField, SmallAutoField)
# A field's value as the database driver takes it: prep(value, connection).
Prep = Callable[[object, object], object]
_statements: dict[tuple[type, str, bool, bool], tuple[str, list, list[Prep]]] = {}


def _statement(
    model: type[Model], connection, *, returning: bool = True, with_pk: bool = False
) -> tuple[str, list, list[Prep]]:
    key = (model, connection.vendor, returning, with_pk)
    found = _statements.get(key)
    if found is None:
        meta = model._meta
        fields = [f for f in meta.local_concrete_fields if not isinstance(f, _AUTO)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in ([meta.pk] if with_pk else []) + fields)
        marks = ", ".join(["%s"] * (len(fields) + with_pk))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608 - names from the model
        if returning:
            sql += f" RETURNING {quote(meta.pk.column)}"
        found = _statements[key] = (sql, fields, [_prep(f, connection.vendor) for f in fields])
    return found


def _prep(field, vendor: str) -> Prep:
    """`field.get_db_prep_save`; on SQLite, for a time in UTC on a connection in UTC, the text
    Django would write, made without its time zone conversion (half of what a check-in's two
    times cost to prepare)."""
    if vendor != "sqlite" or type(field) is not DateTimeField:
        return field.get_db_prep_save

    def utc_text(value, connection):
        if (
            isinstance(value, datetime.datetime)
            and value.tzinfo is datetime.UTC
            and connection.timezone is datetime.UTC
        ):
            return str(value.replace(tzinfo=None))
        return field.get_db_prep_save(value, connection)

    return utc_text


def row_insert(instance: M, *, params: list | None = None) -> M:
    """Insert a new instance (its primary key set by the database) and return it, saved; with
    the parameters `row_ready` made for it, if given."""
    # The connection itself, not django.db.connection: every attribute read through that proxy
    # looks the connection up again (an asgiref Local), and preparing a row reads it per field.
    connection = connections[DEFAULT_DB_ALIAS]
    sql, _, _ = _statement(type(instance), connection)
    if params is None:
        params = row_ready(instance)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def row_ready(instance: M) -> list:
    """A new instance's parameters for its INSERT, stamped and sealed now as `row_insert` does
    them, without its primary key: for `row_prepared` to use later, under a lock that the work
    of preparing them need not hold."""
    connection = connections[DEFAULT_DB_ALIAS]
    _, fields, preps = _statement(type(instance), connection, returning=False)
    return [
        prep(f.pre_save(instance, True), connection) for f, prep in zip(fields, preps, strict=True)
    ]


def row_prepared(
    instance: M, *, pk: int | None = None, params: list | None = None
) -> tuple[M, str, list]:
    """A new instance's INSERT and its parameters, prepared now as `row_insert` prepares them
    (stamped and sealed now) unless `row_ready` gave them already, to be run later by `rows_run`
    with others; `pk` gives it its primary key now (taken ahead from the database's sequence),
    else it stays unknown."""
    connection = connections[DEFAULT_DB_ALIAS]
    sql, _, _ = _statement(type(instance), connection, returning=False, with_pk=pk is not None)
    params = list(row_ready(instance) if params is None else params)
    if pk is not None:
        instance.pk = pk
        params.insert(0, pk)
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance, sql, params


def row_values(model: type[Model], values: dict, *, pk: int | None = None) -> tuple[str, list]:
    """A new row's INSERT and its parameters from its fields' values by attname (`actor_id`, not
    `actor`), with no instance: for the rows a batch writes and nothing reads back as a model. The
    values go in as given, with no `pre_save`: seal and stamp them first (an encrypted field
    refuses a value that is not sealed). A field left out takes its default."""
    connection = connections[DEFAULT_DB_ALIAS]
    sql, fields, preps = _statement(model, connection, returning=False, with_pk=pk is not None)
    params = [
        prep(values[f.attname] if f.attname in values else f.get_default(), connection)
        for f, prep in zip(fields, preps, strict=True)
    ]
    if pk is not None:
        params.insert(0, pk)
    return sql, params


def rows_run(rows: list[tuple[str, list]]) -> None:
    """Run prepared INSERTs (`row_prepared`, `row_values`) in the order each statement first
    appears; each table's rows in their order. Only for rows no other row of the same run refers
    to (or by keys checked at commit, as PostgreSQL's foreign keys are here).

    On PostgreSQL each table's rows go as one multi-row INSERT: `executemany` there pipelines a
    statement per row, each dumped by the driver and parsed by the server. SQLite compiles a
    statement once and steps it per row, which costs less than compiling a longer one."""
    by_statement: dict[str, list[list]] = {}
    for sql, params in rows:
        by_statement.setdefault(sql, []).append(params)
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        for sql, many in by_statement.items():
            if connection.vendor == "postgresql" and len(many) > 1:
                head, _, row = sql.rpartition(" VALUES ")
                values = ", ".join([row] * len(many))
                cursor.execute(f"{head} VALUES {values}", [v for params in many for v in params])
            else:
                cursor.executemany(sql, many)


def ids_ahead(model: type[Model], count: int) -> list[int]:
    """`count` primary keys taken now for the model's next rows, in one statement.

    PostgreSQL: from the model's sequence. SQLite: the keys after the table's AUTOINCREMENT
    sequence, which is moved past them (a row inserted meanwhile gets the next key, as after
    `nextval`), only inside a transaction begun IMMEDIATE (Fieldops' setting): it holds the
    database's write lock from its BEGIN, so no other connection inserts until it ends.
    Elsewhere an empty list: the rows are inserted one by one."""
    connection = connections[DEFAULT_DB_ALIAS]
    if count < 1:
        return []
    meta = model._meta
    if connection.vendor == "sqlite" and _write_locked(connection):
        quote = connection.ops.quote_name
        sql = (
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0),"  # noqa: S608 - names from the model
            f" COALESCE((SELECT MAX({quote(meta.pk.column)}) FROM {quote(meta.db_table)}), 0))"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [meta.db_table])
            last = cursor.fetchone()[0]
            cursor.execute(
                "UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [last + count, meta.db_table]
            )
            if cursor.rowcount == 0:  # the table never had a row
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                    [meta.db_table, last + count],
                )
        return list(range(last + 1, last + 1 + count))
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _write_locked(connection) -> bool:
    options = connection.settings_dict.get("OPTIONS", {})
    return connection.in_atomic_block and options.get("transaction_mode") == "IMMEDIATE"
