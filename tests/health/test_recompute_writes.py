"""What a recompute writes: only new or changed snapshots, so recomputing a day again changes
nothing at all (no snapshot rewritten, no alert, play, suggestion or nudge raised again, nothing
queued); a changed score rewrites its own row; snapshots and the hooks' writes commit together
or not at all; and every write path (PostgreSQL's COPY, its inline statement for a few rows,
the ORM elsewhere) stores the same contents."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from cs_portal.imports import run_import
from health import aggregates, services
from health.engine import evaluate
from health.models import HealthSnapshot
from health.services import (
    health_backfill,
    health_model_current,
    health_recompute,
    last_complete_day,
    snapshot_rows,
)
from playbooks.models import Alert, Nudge
from tests.conftest import table_rows
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks.test_alerts import collapse_rows

D = last_complete_day()
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY and inline paths are PostgreSQL's"
)


@pytest.fixture
def book(db, alice, settings, eager_celery_quiet):
    """Three accounts scored yesterday, each crossing something today: `steady` (digital tier,
    Ethereum only, 75% of its commit used), `sliding` (renews in 30 days, usage collapsed over
    the last 7 days) and `idle` (no usage at all)."""
    settings.SLACK_WEBHOOK_URL = ""
    settings.NUDGE_WEBHOOK_URL = ""
    steady = AccountFactory(external_id="steady", tier=3, csm=alice)
    ContractFactory(
        account=steady,
        start=D - timedelta(days=100),
        end=D + timedelta(days=264),
        commit_units=Decimal(80_000),
    )
    sliding = AccountFactory(external_id="sliding", tier=2, seats=10, csm=alice)
    ContractFactory(account=sliding, start=D - timedelta(days=334), end=D + timedelta(days=30))
    idle = AccountFactory(external_id="idle", tier=2, csm=alice)
    assert run_import(
        "usage",
        json_rows=collapse_rows("steady", low_days=0) + collapse_rows("sliding", low_days=0),
    ).ok
    health_recompute(as_of=D - timedelta(days=1))
    assert run_import("usage", json_rows=collapse_rows("sliding", days=7)).ok
    return steady, sliding, idle


def stored(day=D) -> dict[int, dict]:
    """The day's snapshots: each account's content (what a recompute computes)."""
    fields = ("account_id", *services.SNAPSHOT_CONTENT)
    return {
        row["account_id"]: row for row in HealthSnapshot.objects.filter(date=day).values(*fields)
    }


# --- a day recomputed again -----------------------------------------------------------------


def test_recomputing_the_day_again_writes_nothing_and_raises_nothing(
    book, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert health_recompute(as_of=D) == 3
    raised = sorted(Alert.objects.values_list("account__external_id", "kind"))
    assert ("sliding", "override") in raised and ("steady", "commit_threshold") in raised
    assert Nudge.objects.filter(account=book[0]).count() == 2  # throughput 70% and cross-chain
    before = table_rows()

    with django_capture_on_commit_callbacks() as queued:
        assert health_recompute(as_of=D) == 3
        assert health_recompute(as_of=D, account_ids=[a.pk for a in book]) == 3
        assert health_recompute(as_of=D, account_ids=[book[1].pk]) == 1

    assert queued == []  # no alert or nudge to deliver
    assert table_rows() == before  # every snapshot as it was, computed_at included


def test_a_changed_score_rewrites_that_snapshot_and_only_that_one(book):
    steady, sliding, idle = book
    health_recompute(as_of=D)
    before = {s.account_id: s for s in HealthSnapshot.objects.filter(date=D)}
    assert run_import("usage", json_rows=collapse_rows("steady", days=7)).ok

    health_recompute(as_of=D)

    after = {s.account_id: s for s in HealthSnapshot.objects.filter(date=D)}
    old, new = before[steady.pk], after[steady.pk]
    assert new.pk == old.pk
    assert new.score < old.score and new.band == "red" != old.band
    assert [o["key"] for o in new.overrides] == ["sharp_drop"]
    assert new.facts["units_7"] == 700.0 != old.facts["units_7"]
    assert new.computed_at > old.computed_at
    for account in (sliding, idle):
        assert model_to_dict(after[account.pk]) == model_to_dict(before[account.pk])
        assert after[account.pk].computed_at == before[account.pk].computed_at


def test_a_failing_hook_leaves_the_previous_snapshots_and_writes_nothing(book, monkeypatch):
    health_recompute(as_of=D)
    before = table_rows()
    assert run_import("usage", json_rows=collapse_rows("steady", days=7)).ok
    imported = table_rows()

    def boom(**kwargs):
        raise RuntimeError("the tiering hook failed")

    monkeypatch.setattr("playbooks.hooks.tier_suggestions_refresh", boom)
    with pytest.raises(RuntimeError):
        health_recompute(as_of=D)

    assert table_rows() == imported
    assert imported["health.healthsnapshot"] == before["health.healthsnapshot"]
    monkeypatch.undo()
    health_recompute(as_of=D)  # and the next recompute goes through
    assert stored()[book[0].pk]["band"] == "red"


# --- the write paths ------------------------------------------------------------------------


PATHS = [
    pytest.param("orm", id="orm"),
    pytest.param("copy", id="copy", marks=on_postgres),
    pytest.param("inline", id="inline", marks=on_postgres),
]


def write(path: str, rows, monkeypatch) -> int:
    if path == "orm":
        return services._snapshots_write_orm(rows, day=rows[0].date, account_ids=None)
    monkeypatch.setattr(services, "COPY_MIN_ROWS", 0 if path == "copy" else 10_000)
    return services._snapshots_write_pg(rows)


@pytest.mark.parametrize("path", PATHS)
def test_every_write_path_stores_the_same_snapshots(book, path, monkeypatch):
    rows = snapshot_rows(as_of=D, account_ids=None, model=health_model_current())
    # The reference: the ORM's bulk_create, as the recompute always stored snapshots.
    assert services._snapshots_write_orm(rows, day=D, account_ids=None) == 3
    expected = stored()
    HealthSnapshot.objects.filter(date=D).delete()

    assert write(path, rows, monkeypatch) == 3
    assert stored() == expected
    assert write(path, rows, monkeypatch) == 0  # identical rows are not written again

    changed = rows[1]._replace(score=rows[1].score + 1, facts={**rows[1].facts, "units_7": 1.5})
    computed = dict(HealthSnapshot.objects.filter(date=D).values_list("account_id", "computed_at"))
    assert write(path, [rows[0], changed, rows[2]], monkeypatch) == 1
    expected[changed.account_id].update(score=changed.score, facts=changed.facts)
    assert stored() == expected
    now = dict(HealthSnapshot.objects.filter(date=D).values_list("account_id", "computed_at"))
    assert [a for a in now if now[a] != computed[a]] == [changed.account_id]


@on_postgres
def test_the_copy_path_recomputes_several_days_in_one_transaction(book, monkeypatch):
    monkeypatch.setattr(services, "COPY_MIN_ROWS", 0)
    assert health_backfill(since=D - timedelta(days=3), until=D) == 12
    assert HealthSnapshot.objects.filter(date__gte=D - timedelta(days=3)).count() == 12


def test_signals_are_stored_as_the_engine_explains_them(book):
    model = health_model_current()
    rows = {r.account_id: r for r in snapshot_rows(as_of=D, account_ids=None, model=model)}
    for inp in aggregates.build_inputs(D):
        result = evaluate(
            inp,
            as_of=D,
            weights=model.weights,
            green_min=model.green_min,
            yellow_min=model.yellow_min,
        )
        assert rows[inp.account_id].signals == result.signals_json()
        assert rows[inp.account_id].overrides == result.overrides_json()
        assert rows[inp.account_id].facts == result.facts
