"""Naming other apps' tables and columns in the few raw SQL queries: through their models'
metadata, so a schema change there fails loudly here instead of reading the wrong thing."""

from __future__ import annotations

from types import SimpleNamespace

from django.db import connection
from django.db.models import Model


def columns(model: type[Model], *fields: str) -> SimpleNamespace:
    """`.table` and one attribute per field: the quoted table and column names."""
    quote = connection.ops.quote_name
    names = {f: quote(model._meta.get_field(f).column) for f in fields}
    return SimpleNamespace(table=quote(model._meta.db_table), **names)
