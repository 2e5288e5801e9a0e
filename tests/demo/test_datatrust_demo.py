"""The data-trust demo: deterministic files, imported through the pipeline, telling its three
stories (an open breach, a recovered one, an upcoming schema change with heads-ups), only for a
book anchored on the live day, and a re-run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from datatrust.models import Dataset, FreshnessObservation, HeadsUp
from demo import datatrust as demo
from demo import usage as health_demo
from demo.management.commands import seed_demo as seed_cmd
from health.models import HealthSnapshot, Incident, UsageFact
from playbooks.models import Nudge, Task
from tests.conftest import table_rows
from tests.datatrust.conftest import TODAY, YESTERDAY

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_files_are_a_pure_function_of_the_anchor():
    assert demo.observation_rows(TODAY) == demo.observation_rows(TODAY)
    assert demo.observation_rows(TODAY) != demo.observation_rows(TODAY - timedelta(days=1))
    assert len(demo.catalogue_rows()) == len({r["dataset"] for r in demo.catalogue_rows()}) >= 15
    [change] = demo.change_rows(TODAY)
    assert change["effective"] == (TODAY + timedelta(days=21)).isoformat()
    assert change["datasets"] == demo.CHANGE_DATASET


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def cheap_seed(monkeypatch, settings):
    """A seed on the live day kept fast: two days of snapshots, the last 40 days of usage."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    monkeypatch.setattr(seed_cmd, "BACKFILL_DAYS", 2)
    real = health_demo.apply_stories

    def recent_only(book, today, seed=None):
        out = real(book, today) if seed is None else real(book, today, seed)
        cutoff = (today - timedelta(days=40)).isoformat()
        out["usage"] = [row for row in out["usage"] if row["date"] >= cutoff]
        return out

    monkeypatch.setattr(health_demo, "apply_stories", recent_only)
    return _seed


@pytest.mark.slow
@pytest.mark.django_db
def test_a_live_seed_tells_the_three_stories_and_a_rerun_changes_nothing(cheap_seed):
    out = cheap_seed("--today", TODAY.isoformat())
    assert "datasets" in out and "heads-ups" in out

    assert Dataset.objects.count() == len(demo.CATALOGUE)
    assert FreshnessObservation.objects.count() == len(demo.observation_rows(TODAY))

    autos = {i.datasets[0]: i for i in Incident.objects.filter(auto=True)}
    assert set(autos) == {demo.OPEN_BREACH, demo.RECOVERED_BREACH}  # the near miss opened none
    breach = autos[demo.OPEN_BREACH]
    assert (breach.resolved, breach.severity, breach.started) == (None, "high", YESTERDAY)
    assert breach.title == "crosschain.dex.orderflow 236 min behind (SLA 90 min)"
    recovered = autos[demo.RECOVERED_BREACH]
    assert recovered.resolved == TODAY - timedelta(days=5)

    # The open breach caps exactly the accounts that used the dataset in the last 28 days.
    users = set(
        UsageFact.objects.filter(
            dataset=demo.OPEN_BREACH, date__gt=YESTERDAY - timedelta(days=28), date__lte=YESTERDAY
        )
        .exclude(metric="failed_queries")
        .values_list("account_id", flat=True)
    )
    assert users
    capped = {
        s.account_id
        for s in HealthSnapshot.objects.filter(date=YESTERDAY)
        if any(demo.OPEN_BREACH in o["detail"] for o in s.overrides)
    }
    assert capped == users

    # The upcoming schema change: tasks for tiers 1-2, nudges for the digital explorers.
    change = Incident.objects.get(key=demo.change_key(TODAY))
    assert change.effective == TODAY + timedelta(days=21) and change.note == demo.CHANGE_NOTE
    sent = HeadsUp.objects.filter(incident=change).select_related("account")
    assert {h.account.tier for h in sent if h.task_id} <= {1, 2}
    assert sum(1 for h in sent if h.task_id) >= 5
    assert sum(1 for h in sent if h.nudge_id) == demo.DIGITAL_EXPLORERS
    assert all(h.account.tier == 3 for h in sent if h.nudge_id)
    assert Nudge.objects.filter(kind="schema_change").count() == demo.DIGITAL_EXPLORERS
    assert Task.objects.filter(title__startswith="Schema change heads-up").count() == sum(
        1 for h in sent if h.task_id
    )

    before = table_rows()
    again = cheap_seed()
    assert table_rows() == before
    assert "heads-ups    0 new" in again


@pytest.mark.slow
@pytest.mark.django_db
def test_a_book_anchored_in_the_past_gets_no_telemetry_and_loses_a_live_ones(cheap_seed):
    cheap_seed("--today", TODAY.isoformat())
    assert FreshnessObservation.objects.exists()
    past = TODAY - timedelta(days=30)
    out = cheap_seed("--today", past.isoformat())
    assert "datatrust    none: the book is anchored in the past" in out
    assert not FreshnessObservation.objects.exists()
    assert not Incident.objects.filter(auto=True).exists()
    assert not Incident.objects.filter(title=demo.CHANGE_TITLE).exists()
    assert not HeadsUp.objects.exists()
    assert Dataset.objects.count() == len(demo.CATALOGUE)  # the catalogue is not telemetry
