"""The usage facts as raw SQL reads name them: the fact table, and the facts with their
interned dimensions joined back (a derived table both PostgreSQL and SQLite flatten into a join,
so a date range on it still prunes the PostgreSQL partitions)."""

from __future__ import annotations

from .models import DIMENSIONS, UsageDims, UsageFact

USAGE = UsageFact._meta.db_table
DIMS = UsageDims._meta.db_table
_COLUMNS = ", ".join(f"ud.{c}" for c in DIMENSIONS)


def usage_with_dims(alias: str = "usage") -> str:
    """`(SELECT account_id, date, metric, value, product, chain, dataset, reason …) AS alias`."""
    return (
        f"(SELECT uf.account_id, uf.date, uf.metric, uf.value, {_COLUMNS} "
        f"FROM {USAGE} uf JOIN {DIMS} ud ON ud.id = uf.dims_id) AS {alias}"
    )
