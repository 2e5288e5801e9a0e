"""Schema-change heads-ups: every account that queried the changing datasets in the last 30
days gets exactly one (a task for tiers 1-2, a nudge for tier 3), nobody else gets anything, a
re-import sends nothing new, and nobody's health is capped."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cs_portal.imports import run_import
from datatrust.models import HeadsUp
from health.models import HealthSnapshot
from health.services import health_recompute
from playbooks.models import Nudge, Task
from tests.datatrust.conftest import TODAY, YESTERDAY, healthy_rows, ok, usage_rows, use
from tests.factories import AccountFactory
from tests.recording_server import RecordingServer, serving

pytestmark = pytest.mark.django_db

EFFECTIVE = TODAY + timedelta(days=20)
NOTE = "Nested JSON in transactions changes shape: read effects.status, not status."


def change(
    key: str = "CHG-SUI",
    *,
    datasets: str = "sui.raw.transactions;sui.raw.checkpoints",
    effective=EFFECTIVE,
    note: str = NOTE,
    **extra,
) -> dict:
    return {
        "key": key,
        "kind": "schema_change",
        "severity": "medium",
        "started": YESTERDAY.isoformat(),
        "datasets": datasets,
        "chains": "sui",
        "title": "Sui JSON-RPC → gRPC",
        "effective": effective.isoformat() if effective else "",
        "note": note,
        **extra,
    }


@pytest.fixture
def book(alice, bob):
    """Who used Sui's tables lately, and how."""
    accounts = {
        # tier 1 with a CSM: queried transactions 3 days ago
        "strategic": AccountFactory(external_id="strategic", tier=1, csm=alice),
        # tier 2 without a CSM: only failed queries on checkpoints (still a user of its shape)
        "pooled": AccountFactory(external_id="pooled", tier=2, csm=None),
        # tier 3: units on transactions yesterday
        "digital": AccountFactory(external_id="digital", tier=3, csm=None),
        # used it 45 days ago only
        "lapsed": AccountFactory(external_id="lapsed", tier=2, csm=bob),
        # never touched Sui
        "other": AccountFactory(external_id="other", tier=1, csm=bob),
    }
    rows = usage_rows("strategic", "sui.raw.transactions", [TODAY - timedelta(days=3)])
    rows += usage_rows(
        "pooled",
        "sui.raw.checkpoints",
        [TODAY - timedelta(days=12)],
        metric="failed_queries",
        value=4,
        reason="timeout",
    )
    rows += usage_rows("digital", "sui.raw.transactions", [YESTERDAY])
    rows += usage_rows("lapsed", "sui.raw.transactions", [TODAY - timedelta(days=45)])
    rows += usage_rows("other", "ethereum.raw.logs", [YESTERDAY])
    use(rows)
    return accounts


def heads_ups() -> dict[str, HeadsUp]:
    return {
        h.account.external_id: h
        for h in HeadsUp.objects.select_related("account", "task", "nudge", "incident")
    }


def test_each_account_that_used_the_change_gets_one_heads_up_by_tier(book, alice):
    ok(run_import("incidents", json_rows=[change()]))

    sent = heads_ups()
    assert set(sent) == {"strategic", "pooled", "digital"}
    assert {k: h.datasets for k, h in sent.items()} == {
        "strategic": ["sui.raw.transactions"],
        "pooled": ["sui.raw.checkpoints"],
        "digital": ["sui.raw.transactions"],
    }

    task = sent["strategic"].task
    assert sent["strategic"].nudge is None
    assert (task.owner, task.pool, task.play, task.status) == (alice, "", None, "open")
    assert task.title == (
        f"Schema change heads-up: sui.raw.transactions changes on {EFFECTIVE.isoformat()}"
    )
    assert task.due == EFFECTIVE - timedelta(days=3)
    assert task.detail.startswith(f"Migration note: {NOTE}\n")
    assert "What they used in the last 30 days: sui.raw.transactions." in task.detail
    assert "/incidents/CHG-SUI/" in task.detail

    pooled = sent["pooled"].task
    assert (pooled.owner, pooled.pool) == (None, "tier2")

    nudge = sent["digital"].nudge
    assert sent["digital"].task is None
    assert (nudge.kind, nudge.key) == ("schema_change", "CHG-SUI")
    assert nudge.message == (
        f"Heads-up: sui.raw.transactions changes on {EFFECTIVE.isoformat()}. {NOTE}"
    )
    assert nudge.payload == {
        "account": "digital",
        "incident": "CHG-SUI",
        "title": "Sui JSON-RPC → gRPC",
        "datasets": ["sui.raw.transactions"],
        "changed": ["sui.raw.checkpoints", "sui.raw.transactions"],
        "effective": EFFECTIVE.isoformat(),
        "note": NOTE,
    }
    assert Task.objects.count() == 2 and Nudge.objects.count() == 1


def test_reimporting_the_same_change_creates_nothing_new(book):
    ok(run_import("incidents", json_rows=[change()]))
    counts = (HeadsUp.objects.count(), Task.objects.count(), Nudge.objects.count())
    ok(run_import("incidents", json_rows=[change()]))
    # Even a changed row (a new note) does not send a second heads-up to the same accounts.
    ok(run_import("incidents", json_rows=[change(note="Updated guide.")]))
    assert (HeadsUp.objects.count(), Task.objects.count(), Nudge.objects.count()) == counts


def test_an_account_that_starts_using_it_later_gets_its_own_heads_up_on_the_next_import(book):
    ok(run_import("incidents", json_rows=[change()]))
    use(usage_rows("other", "sui.raw.checkpoints", [YESTERDAY]))
    ok(run_import("incidents", json_rows=[change(note="Updated guide.")]))
    assert set(heads_ups()) == {"strategic", "pooled", "digital", "other"}
    assert HeadsUp.objects.filter(account__external_id="strategic").count() == 1


def test_due_is_never_in_the_past_and_undated_changes_get_a_week(book):
    ok(run_import("incidents", json_rows=[change("CHG-NOW", effective=TODAY + timedelta(days=1))]))
    assert heads_ups()["strategic"].task.due == TODAY
    HeadsUp.objects.all().delete()
    Task.objects.all().delete()
    ok(run_import("incidents", json_rows=[change("CHG-TBA", effective=None, note="")]))
    task = heads_ups()["strategic"].task
    assert task.due == TODAY + timedelta(days=7)
    assert task.title == "Schema change heads-up: sui.raw.transactions changes soon (no date yet)"
    assert "none published yet" in task.detail


def test_a_change_effective_in_the_past_is_still_news(book):
    ok(run_import("incidents", json_rows=[change("CHG-OLD", effective=TODAY - timedelta(days=60))]))
    assert set(heads_ups()) == {"strategic", "pooled", "digital"}
    assert heads_ups()["strategic"].task.due == TODAY


def test_wildcards_reach_every_table_they_name(db):
    AccountFactory(external_id="horizon", tier=2)
    AccountFactory(external_id="assets", tier=3)
    AccountFactory(external_id="ledgerless", tier=2)
    use(
        usage_rows("horizon", "stellar.raw.transactions", [YESTERDAY])
        + usage_rows("horizon", "stellar.raw.ledgers", [YESTERDAY])
        + usage_rows("assets", "stellar.assets.transfers", [YESTERDAY])
        + usage_rows("ledgerless", "stellar.core.ledgers", [YESTERDAY])
    )
    ok(
        run_import(
            "incidents",
            json_rows=[change("CHG-XLM", datasets="stellar.raw.*;stellar.assets.*", chains="")],
        )
    )
    sent = heads_ups()
    assert {k: h.datasets for k, h in sent.items()} == {
        "horizon": ["stellar.raw.ledgers", "stellar.raw.transactions"],
        "assets": ["stellar.assets.transfers"],
    }
    assert sent["horizon"].task.title == (
        "Schema change heads-up: stellar.raw.ledgers, stellar.raw.transactions change on "
        f"{EFFECTIVE.isoformat()}"
    )


def test_other_kinds_send_no_heads_up(book):
    row = change("INC-SUI")
    row.update(kind="outage", effective="", note="")
    ok(run_import("incidents", json_rows=[row]))
    assert not HeadsUp.objects.exists()


def test_a_schema_change_caps_nobodys_health(db):
    AccountFactory(external_id="steady", tier=3, seats=10)
    use(healthy_rows("steady", "sui.raw.transactions"))
    ok(run_import("incidents", json_rows=[change()]))
    health_recompute()
    snap = HealthSnapshot.objects.get(account__external_id="steady", date=YESTERDAY)
    assert (snap.band, snap.overrides) == ("green", [])
    assert HeadsUp.objects.filter(account__external_id="steady").count() == 1


def test_the_nudge_goes_to_the_product_webhook_after_commit(
    book, settings, eager_celery, django_capture_on_commit_callbacks
):
    with serving(RecordingServer()) as receiver:
        settings.NUDGE_WEBHOOK_URL = receiver.url
        settings.NUDGE_WEBHOOK_SECRET = ""
        with django_capture_on_commit_callbacks(execute=True):
            ok(run_import("incidents", json_rows=[change()]))
        [request] = receiver.requests
    assert request["headers"]["X-CSPortal-Event"] == "nudge.schema_change"
    body = json.loads(request["body"])
    assert (body["event"], body["account"], body["key"]) == (
        "nudge.schema_change",
        "digital",
        "CHG-SUI",
    )
    assert body["data"]["datasets"] == ["sui.raw.transactions"]
    assert Nudge.objects.get().status == "sent"


def test_an_imported_change_without_chains_takes_them_from_the_catalogue(book):
    from health.models import Incident

    ok(
        run_import(
            "datasets",
            json_rows=[
                {"dataset": "stellar.raw.ledgers", "chains": "stellar"},
                {"dataset": "stellar.assets.transfers", "chains": "stellar"},
                {"dataset": "sui.raw.transactions", "chains": "sui"},
            ],
        )
    )
    ok(run_import("incidents", json_rows=[change("CHG-XLM", datasets="stellar.*", chains="")]))
    ok(run_import("incidents", json_rows=[change("CHG-OWN", chains="sui;sui_testnet")]))
    assert Incident.objects.get(key="CHG-XLM").chains == ["stellar"]
    assert Incident.objects.get(key="CHG-OWN").chains == ["sui", "sui_testnet"]  # given: kept
