"""The narrower natural key: dimension tuples interned into `UsageDims`, every fact kept."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import Q

from health.models import DIMENSIONS, UsageDims, UsageFact
from tests.factories import AccountFactory
from tests.health import migration_helpers as mh


@pytest.mark.django_db
def test_facts_name_their_dimensions_once_and_read_them_back():
    account = AccountFactory()
    day = date(2026, 3, 5)
    UsageFact.objects.create(account=account, date=day, metric="units", value=5, chain="base")
    UsageFact.objects.create(account=account, date=day, metric="queries", value=2, chain="base")
    UsageFact.objects.create(account=account, date=day, metric="queries", value=1)

    assert UsageDims.objects.count() == 2  # (…, base, …) once, and the blank tuple
    assert set(UsageFact.objects.filter(chain="base").values_list("metric", flat=True)) == {
        "units",
        "queries",
    }
    assert UsageFact.objects.get(metric="units").chain == "base"
    assert UsageFact.objects.exclude(chain="base").get().chain == ""
    # Q objects name dimensions the same way, nested too.
    either = Q(chain="base") | Q(dataset="base.dex.trades")
    assert UsageFact.objects.filter(either).count() == 2
    assert UsageFact.objects.filter(~Q(Q(chain="base") & Q(metric="units"))).count() == 2


@pytest.mark.django_db
def test_the_same_key_cannot_be_stored_twice():
    from django.db import IntegrityError, transaction

    account = AccountFactory()
    fact = {"account": account, "date": date(2026, 3, 5), "metric": "units", "chain": "base"}
    UsageFact.objects.create(value=1, **fact)
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageFact.objects.create(value=2, **fact)


@pytest.mark.django_db(transaction=True)
def test_migrating_a_populated_seven_column_table_keeps_every_fact():
    """Back to the schema before the dimensions were interned, fill it, forward again."""
    accounts = [AccountFactory().pk for _ in range(3)]
    target = mh.latest()
    mh.migrate_to([("health", "0005_default_model_with_recency")])
    try:
        rows = mh.legacy_rows(accounts)
        mh.insert_legacy(rows)
    finally:
        mh.migrate_to(target)
    assert mh.totals_by_account_day() == mh.expected_totals(rows)
    stored = set(UsageFact.objects.values_list("account_id", "date", "metric", *DIMENSIONS))
    assert stored == {r[:7] for r in rows}
    assert UsageDims.objects.count() == len({r[3:7] for r in rows})
