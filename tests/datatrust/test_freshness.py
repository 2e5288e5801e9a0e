"""The freshness monitor: three observations in a row over the SLA open an auto incident, the
first one back within it resolves it, exactly the accounts that used the dataset are rescored,
and their health is capped at once (the live day counts a breach that started today)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datatrust.models import Dataset
from health.models import HealthSnapshot, Incident, RecomputeRequest
from health.services import health_recompute
from tests.datatrust.conftest import (
    TODAY,
    YESTERDAY,
    catalogue,
    healthy_rows,
    hours_ago,
    observe,
    usage_rows,
    use,
)
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def auto_incidents():
    return list(Incident.objects.filter(auto=True).order_by("started", "key"))


def test_two_observations_over_the_sla_open_nothing_three_open_an_incident(logs):
    start = hours_ago(3).replace(second=0)
    observe("ethereum.raw.logs", [8, 9, 31, 47], start=start)
    assert auto_incidents() == []

    observe("ethereum.raw.logs", [52], start=start + timedelta(minutes=40))
    [incident] = auto_incidents()
    first_over = start + timedelta(minutes=20)
    assert incident.key == f"freshness-ethereum.raw.logs-{first_over:%Y%m%d%H%M}"
    assert (incident.kind, incident.auto, incident.resolved, incident.resolved_at) == (
        "freshness",
        True,
        None,
        None,
    )
    assert incident.started == first_over.date()
    assert incident.opened_at == start + timedelta(minutes=40)
    assert incident.datasets == ["ethereum.raw.logs"]
    assert incident.chains == ["ethereum"]
    # 52 ÷ 15 = 3.5× the SLA: high.
    assert (incident.severity, incident.title) == (
        "high",
        "ethereum.raw.logs 52 min behind (SLA 15 min)",
    )


def test_the_incident_follows_the_worst_lag_then_recovery_resolves_it(logs):
    start = hours_ago(4).replace(second=0)
    observe("ethereum.raw.logs", [20, 22, 25], start=start)
    [incident] = auto_incidents()
    assert incident.severity == "medium"  # 25 ÷ 15 < 2×

    observe("ethereum.raw.logs", [70, 40], start=start + timedelta(minutes=30))
    incident.refresh_from_db()
    assert (incident.severity, incident.title) == (
        "critical",
        "ethereum.raw.logs 70 min behind (SLA 15 min)",
    )

    back = start + timedelta(minutes=50)
    observe("ethereum.raw.logs", [12], start=back)
    incident.refresh_from_db()
    assert (incident.resolved, incident.resolved_at) == (back.date(), back)
    assert incident.title == "ethereum.raw.logs 70 min behind (SLA 15 min)"

    # Over again later: a new incident, not the old one reopened.
    observe("ethereum.raw.logs", [30, 30, 30], start=back + timedelta(minutes=10))
    assert [i.resolved is None for i in auto_incidents()] == [False, True]


def test_a_lag_equal_to_the_sla_is_within_it(logs):
    observe("ethereum.raw.logs", [15, 15, 15, 15], start=hours_ago(2))
    assert auto_incidents() == []


def test_a_dataset_without_an_sla_never_breaches(db):
    catalogue({"dataset": "crosschain.lending.metrics_daily", "chains": "ethereum"})
    observe("crosschain.lending.metrics_daily", [900, 1200, 1500, 2000], start=hours_ago(3))
    assert auto_incidents() == []


def test_one_file_holding_a_breach_and_its_recovery_records_both(logs):
    start = hours_ago(6).replace(second=0)
    observe("ethereum.raw.logs", [9, 40, 60, 45, 30, 10, 9], start=start, every_minutes=30)
    [incident] = auto_incidents()
    assert incident.opened_at == start + timedelta(minutes=90)
    assert incident.resolved_at == start + timedelta(minutes=150)
    assert incident.title == "ethereum.raw.logs 60 min behind (SLA 15 min)"

    # The same file again changes nothing (and requests nothing).
    before = (incident.updated_at, RecomputeRequest.objects.count())
    observe("ethereum.raw.logs", [9, 40, 60, 45, 30, 10, 9], start=start, every_minutes=30)
    incident.refresh_from_db()
    assert (incident.updated_at, RecomputeRequest.objects.count()) == before


def test_corrected_observations_withdraw_a_breach_they_no_longer_show(logs):
    start = hours_ago(3).replace(second=0)
    observe("ethereum.raw.logs", [30, 30, 30], start=start)
    assert len(auto_incidents()) == 1
    observe("ethereum.raw.logs", [30, 5, 30], start=start)  # the middle reading was wrong
    assert auto_incidents() == []


def test_a_long_dataset_name_still_gets_a_key_that_fits(db):
    name = "crosschain.assets.fungible_balances_latest_evm"
    catalogue({"dataset": name, "freshness_sla_minutes": 30})
    observe(name, [40, 50, 60], start=hours_ago(2))
    [incident] = auto_incidents()
    assert len(incident.key) <= 64
    assert incident.key.startswith("freshness-crosschain.assets.fungible_bal")
    assert incident.chains == []  # crosschain: none in the catalogue, none guessed


# --- who is rescored and capped -----------------------------------------------------------------


@pytest.fixture
def book(db):
    """`hit` used ethereum.raw.logs yesterday, `old` only 40 days ago, `spared` never."""
    hit = AccountFactory(external_id="hit", tier=3, seats=10)
    old = AccountFactory(external_id="old", tier=3, seats=10)
    spared = AccountFactory(external_id="spared", tier=3, seats=10)
    rows = healthy_rows("hit", "ethereum.raw.logs") + healthy_rows("spared", "base.raw.blocks")
    rows += healthy_rows("old", "base.raw.blocks")
    rows += usage_rows("old", "ethereum.raw.logs", [TODAY - timedelta(days=40)], metric="queries")
    # A failed query is not use: it never caps anyone's health.
    rows += usage_rows(
        "spared", "ethereum.raw.logs", [YESTERDAY], metric="failed_queries", reason="timeout"
    )
    use(rows)
    catalogue({"dataset": "ethereum.raw.logs", "chains": "ethereum", "freshness_sla_minutes": 15})
    RecomputeRequest.objects.all().delete()
    return hit, old, spared


def overrides(account) -> list[str]:
    snap = HealthSnapshot.objects.get(account=account, date=YESTERDAY)
    return [o["key"] for o in snap.overrides]


def test_a_breach_rescores_exactly_the_accounts_that_used_the_dataset(book):
    hit, _, _ = book
    observe("ethereum.raw.logs", [30, 30, 30], start=hours_ago(1))
    [request] = RecomputeRequest.objects.all()
    assert (request.account_ids, request.reason) == ([hit.pk], "freshness")


def test_a_breach_detected_today_caps_yesterdays_live_score_at_once(book):
    hit, old, spared = book
    health_recompute()  # as of yesterday: all green before the breach
    assert {s.band for s in HealthSnapshot.objects.filter(date=YESTERDAY)} == {"green"}

    observe("ethereum.raw.logs", [30, 41, 47], start=hours_ago(1))
    [incident] = auto_incidents()
    assert incident.started >= YESTERDAY  # today, or yesterday just after midnight UTC
    health_recompute()

    snap = HealthSnapshot.objects.get(account=hit, date=YESTERDAY)
    assert overrides(hit) == ["data_trust_incident"]
    assert snap.band == "yellow"
    assert snap.overrides[0]["detail"] == (
        "open freshness incident ethereum.raw.logs 47 min behind (SLA 15 min) touching "
        "datasets they used in the last 28 days"
    )
    assert next(s for s in snap.signals if s["key"] == "data_trust")["score"] == 40.0
    assert overrides(old) == [] and overrides(spared) == []

    # Back within the SLA: the next live score is green again.
    observe("ethereum.raw.logs", [6], start=hours_ago(0.5))
    health_recompute()
    assert overrides(hit) == []
    assert HealthSnapshot.objects.get(account=hit, date=YESTERDAY).band == "green"


def test_a_backfill_of_a_past_day_does_not_count_a_breach_that_started_later(book):
    hit, _, _ = book
    observe("ethereum.raw.logs", [30, 30, 30], start=hours_ago(1))
    past = YESTERDAY - timedelta(days=5)
    health_recompute(as_of=past, account_ids=[hit.pk])
    snap = HealthSnapshot.objects.get(account=hit, date=past)
    assert snap.overrides == []


def test_dataset_status_reads_the_latest_observation(logs):
    from datatrust.selectors import datasets_overview

    observe("ethereum.raw.logs", [30], start=hours_ago(1))
    [row] = datasets_overview()
    assert (row.status, row.latest_lag) == ("over_sla", 30.0)
    Dataset.objects.update(freshness_sla_minutes=None)
    assert datasets_overview()[0].status == "no_sla"
