"""The recompute hooks' set-based paths: alerts inserted at once (and one at a time when another
worker raised one of them meanwhile), tier suggestions rewritten only when their numbers
changed, and the whole-book cross-chain read scoped like the per-account one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health.services import last_complete_day
from playbooks.alerts import services as alerts
from playbooks.models import Alert, Nudge, TierSuggestion
from playbooks.nudges import selectors as nudges
from playbooks.tiering import services as tiering
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks import alert_helpers, success_helpers

pytestmark = pytest.mark.django_db
D = last_complete_day()


# --- alerts -----------------------------------------------------------------------------------


def sliding(n: int):
    """n accounts that went green → red today: one band_change alert each."""
    accounts = [AccountFactory(external_id=f"acct{i}") for i in range(n)]
    for a in accounts:
        alert_helpers.snapshot(a, D - timedelta(days=1), 80, "green")
        alert_helpers.snapshot(a, D, 30, "red")
    return accounts


def test_new_alerts_are_inserted_in_one_statement_and_never_twice():
    accounts = sliding(5)

    with CaptureQueriesContext(connection) as ctx:
        raised = alerts.alerts_raise(as_of=D)

    assert sorted(a.account_id for a in raised) == sorted(a.pk for a in accounts)
    assert all(a.pk for a in raised)
    inserts = [
        q for q in ctx.captured_queries if q["sql"].startswith('INSERT INTO "playbooks_alert"')
    ]
    assert len(inserts) == 1
    assert alerts.alerts_raise(as_of=D) == []
    assert Alert.objects.count() == 5


def test_an_alert_another_worker_raised_meanwhile_is_not_raised_again(monkeypatch):
    first, *others = sliding(3)
    # The other worker's alert lands after this one read which alerts exist.
    racer = Alert.objects.create(
        account=first, kind="band_change", key=f"{D}:green>red", as_of=D, title="t", detail="d"
    )
    monkeypatch.setattr(alerts, "_existing", lambda candidates, account_ids: {})

    raised = alerts.alerts_raise(as_of=D)

    assert sorted(a.account_id for a in raised) == sorted(a.pk for a in others)
    assert Alert.objects.filter(account=first).get() == racer
    assert Alert.objects.count() == 3


# --- tier suggestions -------------------------------------------------------------------------


def spiking(n: int, ratio: float = 6.0):
    accounts = []
    for _ in range(n):
        a = AccountFactory(tier=3)
        ContractFactory(account=a, arr=Decimal(10_000), start=D - timedelta(days=100))
        success_helpers.snapshot(a, D, facts={"spike_ratio": ratio})
        accounts.append(a)
    return accounts


def updates(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("UPDATE")]


def test_a_refresh_with_the_same_numbers_writes_nothing():
    spiking(4)
    assert len(tiering.tier_suggestions_refresh(as_of=D)) == 4
    before = list(TierSuggestion.objects.order_by("pk").values())

    with CaptureQueriesContext(connection) as ctx:
        assert tiering.tier_suggestions_refresh(as_of=D) == []

    assert updates(ctx) == []
    assert list(TierSuggestion.objects.order_by("pk").values()) == before


def test_changed_numbers_rewrite_only_those_suggestions():
    same, moved = spiking(2)
    tiering.tier_suggestions_refresh(as_of=D)
    success_helpers.snapshot(moved, D, facts={"spike_ratio": 9.25})
    kept = TierSuggestion.objects.get(account=same)

    with CaptureQueriesContext(connection) as ctx:
        tiering.tier_suggestions_refresh(as_of=D)

    assert len(updates(ctx)) == 1
    assert TierSuggestion.objects.get(account=same).evidence == kept.evidence
    rewritten = TierSuggestion.objects.get(account=moved)
    assert rewritten.evidence["spike_ratio"] == 9.25 and "9.2×" in rewritten.reason
    assert rewritten.evidence["as_of"] == D.isoformat()


# --- nudges -----------------------------------------------------------------------------------


def ethereum_units(account, per_day: float = 100, days: int = 28) -> None:
    for n in range(days):
        success_helpers.usage(account, D - timedelta(days=n), "units", per_day, chain="ethereum")


def test_the_whole_book_gets_the_same_cross_chain_nudges_as_each_account():
    heavy = AccountFactory(tier=3, segment="self_serve")
    knows_base = AccountFactory(tier=3, segment="self_serve")
    scaled = AccountFactory(tier=2)  # not the digital tier
    lapsed = AccountFactory(tier=3, segment="self_serve")  # not scored today
    for a in (heavy, knows_base, scaled, lapsed):
        ethereum_units(a)
    success_helpers.usage(knows_base, D - timedelta(days=100), "queries", 1, chain="base")
    for a in (heavy, knows_base, scaled):
        success_helpers.snapshot(a, D)
    scored = [heavy, knows_base, scaled]

    one_by_one = [c for a in scored for c in nudges.nudge_candidates(as_of=D, account_ids=[a.pk])]
    book = nudges.nudge_candidates(as_of=D)

    def key(n: Nudge):
        return n.account_id, n.kind, n.key, n.message, n.payload

    assert [key(n) for n in book] == [key(n) for n in one_by_one]
    assert [(n.account_id, n.kind) for n in book] == [(heavy.pk, "cross_chain")]
