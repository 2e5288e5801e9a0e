"""seed_demo / demo_logins: the demo book is deterministic, shaped like a real book, goes in
through the import pipeline, and re-seeding changes nothing."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import demo
from accounts.models import Account, Contract, Touchpoint, User
from cs_portal.models import ImportRun
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
    lapsed = set(accounts) - set(active)
    assert 8 <= len(lapsed) <= 12
    assert all(accounts[ext]["tier"] == 3 for ext in lapsed)
    for ext, contract in active.items():
        low, high = {1: (250_000, 1_500_000), 2: (40_000, 250_000), 3: (0, 30_000)}[
            accounts[ext]["tier"]
        ]
        assert low <= contract["arr"] <= high, (ext, contract)
        assert (contract["commit_units"] is None) == (contract["arr"] == 0)
    assert any(c["left"] for c in book["contacts"])
    tier1_renewals = sorted(c["end"] for e, c in active.items() if accounts[e]["tier"] == 1)
    assert tier1_renewals[0] <= date(2026, 5, 31).isoformat()  # one renews within 30 days


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
