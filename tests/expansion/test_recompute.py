"""Opportunities drawn by a real recompute: usage imported through the pipeline, health scored,
the triggers judged on the aggregates the recompute handed over. Every number in a thesis is
checked against the hand-built history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cs_portal import clock
from cs_portal.imports import run_import
from expansion.models import Opportunity, Stage, StageChange
from expansion.services import (
    opportunities_refresh_after_recompute,
    opportunity_move,
    trigger_settings_save,
)
from health.models import HealthSnapshot, UsageFact
from health.services import health_recompute


def import_usage(rows: list[dict]) -> None:
    result = run_import("usage", json_rows=rows)
    assert result.ok, result.errors


def row(day: date, metric: str, value: float, **dims) -> dict:
    return {"account": "acme", "date": day.isoformat(), "metric": metric, "value": value, **dims}


@pytest.fixture
def as_of() -> date:
    return clock.last_complete_day()


@pytest.fixture
def heavy_acme(acme_ae, as_of):
    """93 % of the 300,000 committed units used (195,000 on the first day of the period, then
    3,000 a day for the last 28 days), and 12 active users on 10 seats on one day."""
    start = acme_ae.contracts.get().start
    rows = [row(start, "units", 195_000, product="developer")]
    rows += [row(as_of - timedelta(days=i), "units", 3_000, product="developer") for i in range(28)]
    rows.append(row(as_of - timedelta(days=3), "active_users", 12))
    import_usage(rows)
    return acme_ae


def test_a_recompute_draws_each_holding_trigger_once_with_the_numbers(heavy_acme, as_of, alice):
    health_recompute(as_of=as_of)

    opps = {o.kind: o for o in Opportunity.objects.filter(account=heavy_acme)}
    assert set(opps) == {"commit_upsize", "seats"}
    contract = heavy_acme.contracts.get()
    days_left = (contract.end - as_of).days  # 183
    needed = 279_000 + 3_000 * days_left
    upsize = opps["commit_upsize"]
    assert upsize.thesis.startswith(
        f"Consumed 93 % of 300,000 committed units with {days_left} days left; at the current "
        f"run-rate (3,000 units a day over the last 28 days) they need ~{needed:,.0f} for the "
        "period."
    )
    assert float(upsize.arr_potential) == pytest.approx(100_000 * (needed / 300_000 - 1), abs=0.01)
    assert upsize.target == f"period {contract.start.isoformat()}"
    assert upsize.evidence["consumed"] == 279_000 and upsize.evidence["as_of"] == as_of.isoformat()
    seats = opps["seats"]
    assert seats.thesis.startswith("Peak of 12 active users in the last 28 days on 10 seats")
    assert float(seats.arr_potential) == 20_000  # 2 seats at $10,000
    assert (seats.stage, seats.owner, seats.ae.email) == ("identified", alice, "ava@cs.example")
    assert StageChange.objects.filter(opportunity=seats, to_stage="identified").count() == 1


def test_rerunning_the_recompute_creates_and_changes_nothing(heavy_acme, as_of):
    health_recompute(as_of=as_of)
    before = list(Opportunity.objects.order_by("pk").values())
    changes = StageChange.objects.count()

    health_recompute(as_of=as_of)
    health_recompute(as_of=as_of, account_ids=[heavy_acme.pk])

    assert list(Opportunity.objects.order_by("pk").values()) == before
    assert StageChange.objects.count() == changes


def test_the_triggers_read_no_usage_of_their_own(heavy_acme, as_of):
    """The listener judges on what the recompute handed over: the recompute with expansion
    subscribed reads the usage table as often as health alone does."""
    from expansion.services import opportunities_refresh_after_recompute
    from health import events

    def usage_reads() -> int:
        with CaptureQueriesContext(connection) as ctx:
            health_recompute(as_of=as_of)
        return sum(UsageFact._meta.db_table in q["sql"] for q in ctx.captured_queries)

    usage_reads()  # the first run raises alerts and draws opportunities: compare steady runs
    with_expansion = usage_reads()
    events._recompute_listeners.remove(opportunities_refresh_after_recompute)
    try:
        without = usage_reads()
    finally:
        events.on_recompute(opportunities_refresh_after_recompute)
    assert with_expansion == without


def test_a_trigger_that_stops_holding_keeps_the_worked_opportunity(heavy_acme, as_of, alice):
    health_recompute(as_of=as_of)
    seats = Opportunity.objects.get(kind="seats")
    opportunity_move(opportunity=seats, to_stage=Stage.QUALIFIED, user=alice)

    UsageFact.objects.filter(metric="active_users").update(value=9)  # under the 10 seats
    health_recompute(as_of=as_of)

    seats.refresh_from_db()
    assert seats.stage == "qualified" and not seats.trigger_holds
    assert seats.evidence["stopped_holding_on"] == as_of.isoformat()
    assert seats.thesis.startswith("Peak of 12 active users")  # the evidence it was drawn on

    UsageFact.objects.filter(metric="active_users").update(value=11)  # holds again: refreshed
    health_recompute(as_of=as_of)
    seats.refresh_from_db()
    assert seats.trigger_holds and seats.thesis.startswith("Peak of 11 active users")
    assert Opportunity.objects.filter(kind="seats").count() == 1


def test_a_near_miss_draws_nothing(acme_ae, as_of):
    start = acme_ae.contracts.get().start
    rows = [row(start, "units", 185_000, product="developer")]  # 89.9 % with the 28 days below
    rows += [row(as_of - timedelta(days=i), "units", 3_000) for i in range(28)]
    rows.append(row(as_of - timedelta(days=3), "active_users", 9))
    import_usage(rows)

    health_recompute(as_of=as_of)

    assert not Opportunity.objects.exists()


def test_a_trigger_switched_off_by_a_manager_draws_nothing(heavy_acme, as_of, maya):
    trigger_settings_save(
        values={"seats_on": False, "commit_upsize_on": False}, user=maya, note="quiet"
    )
    health_recompute(as_of=as_of)
    assert not Opportunity.objects.exists()


def test_a_lost_opportunity_is_not_drawn_again_at_once(heavy_acme, as_of, ava, alice):
    health_recompute(as_of=as_of)
    seats = Opportunity.objects.get(kind="seats")
    opportunity_move(opportunity=seats, to_stage=Stage.LOST, user=ava, lost_reason="budget")

    health_recompute(as_of=as_of)

    assert Opportunity.objects.filter(kind="seats").count() == 1


def test_backfills_of_past_days_draw_nothing(heavy_acme, as_of):
    health_recompute(as_of=as_of - timedelta(days=10))
    assert not Opportunity.objects.exists()


def test_a_red_account_is_not_drawn_into_the_pipeline_unless_a_manager_says_so(
    heavy_acme, as_of, maya
):
    """Green and yellow accounts are the pipeline: on a red one the triggers hold but nothing new
    is drawn, until a manager turns `draw_on_red` on."""
    health_recompute(as_of=as_of)
    Opportunity.objects.all().delete()
    HealthSnapshot.objects.filter(account=heavy_acme, date=as_of).update(band="red")

    opportunities_refresh_after_recompute(as_of=as_of, account_ids=[heavy_acme.pk])
    assert not Opportunity.objects.filter(account=heavy_acme).exists()

    trigger_settings_save(values={"draw_on_red": True}, user=maya, note="upsell the red ones too")
    opportunities_refresh_after_recompute(as_of=as_of, account_ids=[heavy_acme.pk])
    assert set(Opportunity.objects.filter(account=heavy_acme).values_list("kind", flat=True)) == {
        "commit_upsize",
        "seats",
    }


@pytest.mark.parametrize("copy_from", [1, 10_000])
def test_refreshed_opportunities_are_the_same_through_either_write_path(
    heavy_acme, as_of, alice, monkeypatch, copy_from
):
    """PostgreSQL writes many refreshed opportunities through a staging table, a few (and
    SQLite all) through bulk_update: both store the same fields."""
    from expansion import services

    monkeypatch.setattr(services, "COPY_MIN_ROWS", copy_from)
    health_recompute(as_of=as_of)
    seats = Opportunity.objects.get(kind="seats")
    UsageFact.objects.filter(metric="active_users").update(value=11)
    health_recompute(as_of=as_of)
    seats.refresh_from_db()
    assert seats.trigger_holds and seats.thesis.startswith("Peak of 11 active users")
    assert seats.evidence["as_of"] == as_of.isoformat() and seats.evidence_as_of == as_of
    UsageFact.objects.filter(metric="active_users").update(value=9)  # stops holding
    health_recompute(as_of=as_of)
    seats.refresh_from_db()
    assert not seats.trigger_holds
    assert seats.evidence["stopped_holding_on"] == as_of.isoformat()
    assert seats.thesis.startswith("Peak of 11 active users")
