"""The `feedback` import kind, and churn reasons logged when a contract ends without renewal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cs_portal import clock
from cs_portal.imports import run_import
from health.services import health_recompute
from tests.conftest import usage_landed
from tests.factories import ContractFactory, FeedbackItemFactory, ThemeFactory
from voc.models import FeedbackItem, Theme
from voc.services import CHURN_TITLE


def rows() -> list[dict]:
    return [
        {
            "account": "acme",
            "date": "2026-03-02",
            "type": "coverage_gap",
            "severity": "high",
            "title": "TON jettons",
            "chain": "ton",
            "source": "ticket",
        },
        {
            "account": "globex",
            "date": "2026-03-04",
            "type": "coverage_gap",
            "severity": "medium",
            "title": "TON too",
            "chain": "TON",
            "detail": "for the wallet team",
        },
        {
            "account": "initech",
            "date": "2026-03-05",
            "type": "docs",
            "severity": "low",
            "title": "x",
        },
    ]


def test_a_feedback_file_creates_items_in_their_themes_and_a_second_import_changes_nothing(book):
    result = run_import("feedback", json_rows=rows())
    assert result.ok and result.stats.created == 3

    ton = Theme.objects.get(grouping="coverage_gap|ton|")
    assert sorted(ton.items.values_list("account__external_id", flat=True)) == ["acme", "globex"]
    assert Theme.objects.count() == 2

    again = run_import("feedback", json_rows=rows())
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 3)

    changed = rows()[:1]
    changed[0]["severity"] = "critical"
    assert run_import("feedback", json_rows=changed).stats.updated == 1
    assert FeedbackItem.objects.get(title="TON jettons").severity == "critical"


def test_a_bad_feedback_file_names_every_bad_row_and_writes_nothing(book):
    bad = rows()
    bad[0]["account"] = "nobody"
    bad[1]["type"] = "wish"
    bad[2]["source"] = "behavioral"

    result = run_import("feedback", json_rows=bad)

    assert not result.ok
    assert {(e.row, e.column) for e in result.errors} == {
        (1, "account"),
        (2, "type"),
        (3, "source"),
    }
    assert not FeedbackItem.objects.exists() and not Theme.objects.exists()


def test_a_contract_that_ends_without_renewal_logs_a_churn_reason_once(book, as_of):
    acme = book["acme"]
    ended = as_of - timedelta(days=3)
    acme.contracts.update(end=ended, start=ended - timedelta(days=364))
    solana = ThemeFactory(chain="solana", title="Solana")
    FeedbackItemFactory(account=acme, theme=solana, severity="high", title="Solana please")
    usage_landed(as_of)

    health_recompute(as_of=as_of)
    health_recompute(as_of=as_of)

    churn = FeedbackItem.objects.get(source="churn_reason")
    assert (churn.account, churn.date, churn.title, churn.theme) == (
        acme,
        ended,
        CHURN_TITLE,
        solana,
    )
    assert churn.arr_at_log == Decimal(100_000)
    assert "Solana please" in churn.detail
    # globex and initech renew later: no churn for them.
    assert FeedbackItem.objects.filter(source="churn_reason").count() == 1


def test_a_renewal_imported_late_withdraws_the_churn_reason(book, as_of):
    acme = book["acme"]
    ended = as_of - timedelta(days=3)
    acme.contracts.update(end=ended, start=ended - timedelta(days=364))
    usage_landed(as_of)
    health_recompute(as_of=as_of)
    churn = FeedbackItem.objects.get(source="churn_reason")
    assert churn.theme.title == "Churned: reason not recorded"

    ContractFactory(
        account=acme, start=ended + timedelta(days=1), end=clock.today() + timedelta(days=360)
    )
    health_recompute(as_of=as_of)

    assert not FeedbackItem.objects.filter(source="churn_reason").exists()
