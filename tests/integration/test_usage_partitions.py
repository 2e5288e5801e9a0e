"""PostgreSQL: the usage facts partitioned by month, and the migration that gets them there."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection

from health import partitions
from health.aggregates import low_days, usage_windows
from health.models import UsageFact
from tests.factories import AccountFactory
from tests.health import migration_helpers as mh

pytestmark = pytest.mark.django_db(transaction=True)


def _rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


def test_migrating_a_populated_unpartitioned_table_keeps_every_row():
    """Back to the seven-column, unpartitioned table; fill it; forward through the interning
    and the partitioning: the same facts per account and day, each in its month's partition."""
    accounts = [AccountFactory().pk for _ in range(4)]
    target = mh.latest()
    mh.migrate_to([("health", "0005_default_model_with_recency")])
    try:
        assert not partitions.partitioned()
        rows = mh.legacy_rows(accounts)
        mh.insert_legacy(rows)
    finally:
        mh.migrate_to(target)
    assert partitions.partitioned()
    assert mh.totals_by_account_day() == mh.expected_totals(rows)
    for month in partitions.months(date(2026, 1, 20), date(2026, 3, 30)):
        first, end = month, partitions.next_month(month)
        expected = sum(1 for r in rows if first <= r[1] < end)
        assert _rows_in(partitions.partition_name(month)) == expected
    assert _rows_in(partitions.DEFAULT) == 0
    # New facts still get ids after the copied ones.
    fact = UsageFact.objects.create(
        account_id=accounts[0], date=date(2026, 2, 1), metric="units", value=1, chain="tron"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(id) FROM health_usagefact WHERE id <> %s", [fact.pk])
        assert fact.pk > cursor.fetchone()[0]


def test_a_month_without_a_partition_lands_in_the_default_and_moves_when_it_gets_one():
    account = AccountFactory()
    old = date(2019, 5, 14)
    UsageFact.objects.create(account=account, date=old, metric="units", value=3)
    assert _rows_in(partitions.DEFAULT) == 1

    created = partitions.usage_partitions_ensure(old, old)

    assert created == ["health_usagefact_p2019_05"]
    assert _rows_in("health_usagefact_p2019_05") == 1
    assert _rows_in(partitions.DEFAULT) == 0
    assert partitions.usage_partitions_ensure(old, old) == []  # already there: nothing to do


def test_the_nightly_beat_keeps_months_ahead_ready():
    from health.tasks import usage_partitions_ahead

    usage_partitions_ahead.apply()
    names = {name for name, _ in partitions.usage_partitions()}
    today = date.today()
    month = today.replace(day=1)
    for _ in range(partitions.AHEAD_MONTHS + 1):
        assert partitions.partition_name(month) in names
        month = partitions.next_month(month)


def _scanned(read) -> set[str]:
    """The partitions the plan of `read`'s first usage query touches."""
    sql = None

    def capture(execute, query, params, many, context):
        nonlocal sql
        if sql is None and "health_usagefact" in query:
            sql = (query, params)
        return execute(query, params, many, context)

    with connection.execute_wrapper(capture):
        read()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql[0], sql[1])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {name for name, _ in partitions.usage_partitions() if f" {name} " in plan + " "}


@pytest.mark.parametrize(
    ("read", "months"),
    [
        # 90 days up to 29 November: August (from the 31st) through November.
        (lambda day: usage_windows(day, None), (8, 9, 10, 11)),
        # The 28 days before the last 7, and the last 7: October 26 to November 29.
        (lambda day: low_days(day, None), (10, 11)),
    ],
    ids=["usage_windows", "low_days"],
)
def test_a_window_aggregate_reads_only_the_months_its_window_covers(read, months):
    as_of = date(2026, 11, 29)
    partitions.usage_partitions_ensure(as_of - timedelta(days=400), as_of)

    scanned = _scanned(lambda: read(as_of))

    assert scanned == {f"health_usagefact_p2026_{m:02d}" for m in months}
