"""Behavioural items: failed queries on chains and datasets we do not cover become feedback in
the same recompute that scores the usage, once per (account, reason, chain or dataset), counted
up on repeats."""

from __future__ import annotations

from datetime import timedelta

from health.services import health_recompute
from tests.voc.conftest import failed, import_usage
from voc.models import FailureDay, FeedbackItem, Theme
from voc.services import behavioral_items_update


def test_failed_queries_become_one_item_per_target_with_first_last_and_count(book, as_of):
    d1, d2 = as_of - timedelta(days=2), as_of - timedelta(days=1)
    import_usage(
        [
            failed("acme", d1, 4, chain="solana", dataset="crosschain.dex.trades"),
            failed("acme", d2, 6, chain="solana"),
            failed("acme", d2, 3, reason="dataset_not_found", dataset="common.prices.hourly"),
            failed("acme", d2, 9, reason="timeout", chain="solana"),  # not feedback
            failed("globex", d2, 2, chain="solana"),
        ]
    )
    health_recompute(as_of=as_of)

    items = {
        (i.account.external_id, i.reason, i.chain, i.dataset): i
        for i in FeedbackItem.objects.select_related("account")
    }
    assert set(items) == {
        ("acme", "chain_not_covered", "solana", ""),
        ("acme", "dataset_not_found", "", "common.prices.hourly"),
        ("globex", "chain_not_covered", "solana", ""),
    }
    solana = items[("acme", "chain_not_covered", "solana", "")]
    assert (solana.first_seen, solana.last_seen, solana.failures) == (d1, d2, 10)
    assert (solana.source, solana.type, solana.date) == ("behavioral", "coverage_gap", d1)
    assert solana.title == "Queries fail: chain solana is not covered"
    # Both accounts' Solana failures share one theme; the dataset gets its own.
    assert solana.theme == items[("globex", "chain_not_covered", "solana", "")].theme
    assert solana.theme.title == "Coverage gap: Solana"
    assert Theme.objects.count() == 2
    # The item keeps the account's ARR and tier of the day it was logged.
    assert (solana.arr_at_log, solana.tier_at_log) == (100_000, 2)


def test_a_repeated_recompute_changes_nothing_and_new_failures_count_up(book, as_of):
    import_usage([failed("acme", as_of - timedelta(days=1), 5, chain="solana")])
    health_recompute(as_of=as_of)
    health_recompute(as_of=as_of)
    item = FeedbackItem.objects.get()
    assert item.failures == 5 and FailureDay.objects.count() == 1

    import_usage([failed("acme", as_of, 7, chain="solana")])
    health_recompute(as_of=as_of)

    item.refresh_from_db()
    assert FeedbackItem.objects.count() == 1
    assert (item.failures, item.last_seen) == (12, as_of)
    assert item.first_seen == as_of - timedelta(days=1)


def test_a_corrected_file_counts_down_and_withdraws_an_item_with_no_failures_left(book, as_of):
    day = as_of - timedelta(days=1)
    import_usage([failed("acme", day, 5, chain="solana"), failed("acme", as_of, 2, chain="ton")])
    health_recompute(as_of=as_of)
    assert FeedbackItem.objects.count() == 2

    import_usage([failed("acme", day, 0, chain="solana"), failed("acme", as_of, 1, chain="ton")])
    health_recompute(as_of=as_of)

    assert list(FeedbackItem.objects.values_list("chain", "failures")) == [("ton", 1)]


def test_the_failures_read_once_a_backfill_window_is_exact(book, as_of):
    """A long window (the demo's history, a catch-up) sums every day once."""
    rows = [failed("globex", as_of - timedelta(days=n), 2, chain="ton") for n in range(40)]
    import_usage(rows)
    behavioral_items_update(as_of=as_of, account_ids=None, days=60)
    behavioral_items_update(as_of=as_of, account_ids=None, days=60)

    item = FeedbackItem.objects.get()
    assert (item.failures, item.first_seen, item.last_seen) == (
        80,
        as_of - timedelta(days=39),
        as_of,
    )
    assert item.severity == "medium"  # 50 or more failures
