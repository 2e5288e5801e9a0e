"""Monthly partitions of the usage facts on PostgreSQL (declarative RANGE partitioning on date).

`health_usagefact` is partitioned by month there (migration 0007): a read with a date range
touches only the months it covers, so a recompute's cost follows its windows, not the history.
Partitions are created ahead by the nightly beat (`usage_partitions_ahead`) and, for the months
a file touches, by the usage import before it writes. A DEFAULT partition catches a fact written
for a month that has no partition yet (the ORM writes a test or a script makes); creating that
month's partition later moves such rows into it. SQLite keeps one plain table: every function
here is a no-op there.

The natural key (account_id, date, metric, dims_id) is unique per partition and, as it holds
the partition key, across the table; account_id leads every key, so the same table can be
distributed by account (docs/scaling.md).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection, transaction

from cs_portal import clock

from .usage_sql import USAGE

DEFAULT = f"{USAGE}_default"
AHEAD_MONTHS = 3  # the nightly beat keeps this many months beyond the current one ready
_LOCK = "health_usagefact partitions"


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months(first: date, last: date) -> list[date]:
    """The first day of every month from first's through last's."""
    out, month = [], month_start(first)
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def partition_name(month: date) -> str:
    return f"{USAGE}_p{month:%Y_%m}"


def partitioned() -> bool:
    """Whether the fact table is partitioned here (PostgreSQL after migration 0007)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as c:
        c.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
            [USAGE],
        )
        return c.fetchone() is not None


def existing(cursor) -> set[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        [USAGE],
    )
    return {row[0] for row in cursor.fetchall()}


def usage_partitions_ensure(first: date, last: date) -> list[str]:
    """Create the monthly partitions from first's month through last's that do not exist yet;
    returns the names created. Cheap when they all exist (one catalogue read, no lock)."""
    if not partitioned():
        return []
    wanted = {partition_name(m): m for m in months(first, last)}
    with connection.cursor() as cursor:
        if not set(wanted) - existing(cursor):
            return []
        created = []
        with transaction.atomic():
            # One creator at a time: two imports for the same new month must not race.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_LOCK])
            have = existing(cursor)
            for name, month in sorted(wanted.items()):
                if name not in have:
                    _create(cursor, name, month)
                    created.append(name)
        return created


def _create(cursor, name: str, month: date) -> None:
    """One month's partition; rows the DEFAULT partition holds for that month move into it
    (PostgreSQL refuses the new partition while the default holds rows of its range)."""
    start, end = month, next_month(month)
    cursor.execute(f"SELECT 1 FROM {DEFAULT} WHERE date >= %s AND date < %s LIMIT 1", [start, end])
    stray = cursor.fetchone() is not None
    if stray:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.usage_moving")
        cursor.execute(
            f"CREATE TEMP TABLE usage_moving ON COMMIT DROP AS SELECT * FROM {DEFAULT} "
            "WHERE date >= %s AND date < %s",
            [start, end],
        )
        cursor.execute(f"DELETE FROM {DEFAULT} WHERE date >= %s AND date < %s", [start, end])
    cursor.execute(
        f"CREATE TABLE {name} PARTITION OF {USAGE} FOR VALUES FROM (%s) TO (%s)",
        [start.isoformat(), end.isoformat()],
    )
    if stray:
        cursor.execute(f"INSERT INTO {USAGE} SELECT * FROM usage_moving")
        cursor.execute("DROP TABLE usage_moving")


def usage_partitions_ahead(*, today: date | None = None) -> list[str]:
    """The nightly beat's step: last month's, this month's and the next AHEAD_MONTHS months'
    partitions exist, so the daily feed never waits on creating one."""
    today = today or clock.today()
    last = today
    for _ in range(AHEAD_MONTHS):
        last = next_month(last)
    return usage_partitions_ensure(month_start(today) - timedelta(days=1), last)


def usage_partitions() -> list[tuple[str, int]]:
    """(partition, approximate rows) in name order: for the docs and the bench."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass "
            "ORDER BY c.relname",
            [USAGE],
        )
        return cursor.fetchall()
