"""seed_demo / demo_logins: the demo book is deterministic, shaped like a real book, goes in
through the import pipeline, and re-seeding changes nothing."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account, Contract, Touchpoint, User
from cs_portal.models import ImportRun
from demo import book as demo
from demo import usage as health_demo
from tests.conftest import table_rows

TODAY = date(2026, 5, 1)
# PBKDF2 costs ~1 s a hash; the tests check behaviour, not hash strength.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_generator_is_deterministic_for_a_given_today():
    assert demo.build_book(TODAY) == demo.build_book(TODAY)
    assert demo.build_book(TODAY) != demo.build_book(date(2026, 5, 2))


def test_generated_rows_hang_together():
    book = demo.build_book(TODAY)
    iso = TODAY.isoformat()
    accounts = {a["external_id"]: a for a in book["accounts"]}
    assert len(accounts) == len(book["accounts"])
    contacts = {(c["account"], c["email"]) for c in book["contacts"]}
    for touch in book["touchpoints"]:
        assert touch["date"] <= iso
        assert (touch["account"], touch["contact"]) in contacts
    active = {c["account"]: c for c in book["contracts"] if c["start"] <= iso <= c["end"]}
    # Former customers: the ten digital-tier accounts that lapsed, and the churners below.
    lapsed = set(accounts) - set(active)
    assert 20 <= len(lapsed) <= 35
    assert {accounts[ext]["tier"] for ext in lapsed} == {2, 3}
    for ext, contract in active.items():
        low, high = {1: (250_000, 1_500_000), 2: (40_000, 250_000), 3: (0, 30_000)}[
            accounts[ext]["tier"]
        ]
        assert low <= contract["arr"] <= high, (ext, contract)
        assert (contract["commit_units"] is None) == (contract["arr"] == 0)
    assert any(c["left"] for c in book["contacts"])
    tier1_renewals = sorted(c["end"] for e, c in active.items() if accounts[e]["tier"] == 1)
    assert tier1_renewals[0] <= date(2026, 5, 31).isoformat()  # one renews within 30 days


def _days_ago(iso: str) -> int:
    return (TODAY - date.fromisoformat(iso)).days


def test_the_book_has_a_past_a_backtest_can_read():
    """About one account in eight churned, contracted, recovered from a scare or went dormant
    inside the usage history, across tiers, and its contracts and notes say so."""
    plans = demo.build_plans(TODAY)
    book = demo.build_book(TODAY)
    contracts: dict[str, list[dict]] = {}
    for row in book["contracts"]:
        contracts.setdefault(row["account"], []).append(row)
    touches: dict[str, list[dict]] = {}
    for row in book["touchpoints"]:
        touches.setdefault(row["account"], []).append(row)
    with_past = [p for p in plans if p.outcome is not None]
    assert 0.10 <= len(with_past) / len(plans) <= 0.15
    kinds = {(p.tier, p.outcome.kind) for p in with_past}
    assert {(1, "contracted"), (1, "recovered")} <= kinds
    for tier in (2, 3):
        assert {(tier, k) for k in ("churned", "contracted", "recovered", "dormant")} <= kinds
    assert {p.outcome.shape for p in with_past if p.outcome.kind == "churned"} == {
        "fade",
        "cliff",
        "surprise",
    }
    iso = TODAY.isoformat()
    for plan in with_past:
        o, ext = plan.outcome, plan.external_id
        terms = sorted(contracts[ext], key=lambda c: c["start"])
        last = terms[-1]
        notes = touches.get(ext, [])
        if o.kind == "churned":
            # Ended unrenewed; nobody talked to them after, and the usage stopped by the end.
            assert last["end"] == o.day.isoformat() < iso
            assert o.stop is not None and o.stop <= o.day
            assert all(t["date"] <= last["end"] for t in notes)
            if plan.mood == "churned":  # not one of the ten lapsed ones
                assert 30 <= _days_ago(last["end"]) <= 150, ext
                assert any(
                    "not renewing" in t["note"] or "Cancellation notice" in t["note"] for t in notes
                ), ext
        elif o.kind == "contracted":
            assert last["start"] == o.day.isoformat() and 30 <= _days_ago(last["start"]) <= 150
            assert last["arr"] < terms[-2]["arr"], ext
            assert 0.45 <= o.keep <= 0.9 and 45 <= o.lead <= 100
        elif o.kind == "recovered":
            assert 75 <= _days_ago(o.day.isoformat()) <= 140 and 0.35 <= o.keep <= 0.6
            assert last["start"] <= iso <= last["end"]
        else:
            # Dormant: usage stopped 35-110 days ago while the contract still runs.
            assert o.kind == "dormant" and o.stop == o.day
            assert 35 <= _days_ago(o.day.isoformat()) <= 110
            assert last["start"] <= iso < last["end"]
    # The stories are untouched: none of them has an outcome.
    story_ids = set(health_demo.pick_stories(plans, TODAY).values())
    assert not story_ids & {p.external_id for p in with_past}


@pytest.mark.slow
@pytest.mark.django_db
def test_seed_demo_loads_the_book_and_a_rerun_changes_nothing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    first = _seed("--today", TODAY.isoformat())

    assert 450 <= Account.objects.count() <= 500
    assert abs(Account.objects.filter(tier=1).count() - 15) <= 5
    assert abs(Account.objects.filter(tier=2).count() - 60) <= 15
    assert Contract.objects.exists() and Touchpoint.objects.exists()
    assert "Open http://127.0.0.1:8000 and log in as:" in first
    # Everything went through the pipeline, in dependency order.
    runs = list(ImportRun.objects.order_by("id").values_list("kind", "status"))
    assert runs == [(kind, "accepted") for kind in demo.IMPORT_ORDER]

    csm = User.objects.get(email=demo.CSM)
    assert csm.name == "Priya Raman" and csm.check_password(demo.DEMO_PASSWORD)
    assert Account.objects.filter(csm=csm, tier=1).count() >= 3
    admin = User.objects.get(email=demo.ADMIN)
    assert admin.is_staff and admin.is_superuser
    assert User.objects.get(email=demo.MANAGER).is_staff

    before = table_rows()
    # No --today: the second run must reuse the first run's anchor, or it would add a shifted
    # copy of every contract on any later day.
    second = _seed()
    assert table_rows() == before
    for run in ImportRun.objects.order_by("-id")[: len(demo.IMPORT_ORDER)]:
        assert (run.status, run.created, run.updated) == ("accepted", 0, 0)
    assert "0 new, 0 updated" in second
    assert "0 demo user(s) updated" in second


@pytest.mark.slow
@pytest.mark.django_db
def test_a_rejected_import_stops_the_seed_with_its_errors(settings, monkeypatch):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    book = demo.build_book(TODAY)
    book["touchpoints"][0]["contact"] = "nobody@nowhere.example"
    monkeypatch.setattr(demo, "build_book", lambda today: book)
    rejected = r"(?s)touchpoints import rejected.*nobody@nowhere\.example"
    with pytest.raises(CommandError, match=rejected):
        _seed("--today", TODAY.isoformat())
    assert not Touchpoint.objects.exists()


@pytest.mark.django_db
def test_demo_logins_prints_every_role_and_the_password():
    out, err = StringIO(), StringIO()
    call_command("demo_logins", stdout=out, stderr=err)
    text = out.getvalue()
    for _, email in demo.DEMO_LOGINS:
        assert email in text
    assert demo.DEMO_PASSWORD in text
    assert "seed_demo" in err.getvalue()  # nobody seeded this database yet
