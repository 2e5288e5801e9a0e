"""Raw SQL helpers. Naming other apps' tables and columns in the few raw SQL queries: through
their models' metadata, so a schema change there fails loudly here instead of reading the
wrong thing. Staging many rows for one set-based statement (PostgreSQL's COPY)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from django.db import connection
from django.db.models import Model


def columns(model: type[Model], *fields: str) -> SimpleNamespace:
    """`.table` and one attribute per field: the quoted table and column names."""
    quote = connection.ops.quote_name
    names = {f: quote(model._meta.get_field(f).column) for f in fields}
    return SimpleNamespace(table=quote(model._meta.db_table), **names)


@contextmanager
def staged(cursor, *, stage: str, like: str, cols: str, rows: Iterable[tuple]) -> Iterator[str]:
    """PostgreSQL: a temporary table `stage` shaped like `cols` of the table `like`, filled with
    `rows` through COPY, for the statements run inside the block (an upsert or an UPDATE …
    FROM reading it as one set); dropped after the block, and at commit in any case."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {like} WITH NO DATA"
    )
    with cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    yield stage
    cursor.execute(f"DROP TABLE {stage}")
