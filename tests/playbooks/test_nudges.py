"""Digital-tier nudges (playbooks/nudges/): raised once per crossing, delivered to a real HTTP
receiver on 127.0.0.1 with a verifiable HMAC signature, retried on 5xx and timeouts, skipped
when no webhook is configured; and the nudges page."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from health.services import last_complete_day
from playbooks import tasks
from playbooks.models import Nudge
from playbooks.nudges import rules as nudge_rules
from playbooks.nudges import services as nudges
from tests.conftest import table_rows
from tests.factories import AccountFactory
from tests.playbooks.success_helpers import SECRET, snapshot, usage

pytestmark = pytest.mark.django_db
D = last_complete_day()
PERIOD = {"period_start": "2026-01-01", "period_end": "2026-12-31", "commit": 1_000_000}


def commit_facts(share: float, **period) -> dict:
    return {**PERIOD, **period, "consumed_share": share, "consumed": share * 1_000_000}


def digital(**kw):
    return AccountFactory(tier=3, segment="self_serve", **kw)


def raise_for(*accounts, as_of=D) -> list[Nudge]:
    return nudges.nudges_raise(as_of=as_of, account_ids=[a.pk for a in accounts])


def rows(account) -> list[tuple[str, str]]:
    return sorted(Nudge.objects.filter(account=account).values_list("kind", "key"))


# --- raising ----------------------------------------------------------------------------------


def test_a_catch_up_nudges_only_the_throughput_crossed_inside_its_window():
    """Compared with the snapshot 30 days back: 70 % reached before then is not news."""
    old, new = digital(external_id="old-news"), digital(external_id="new-news")
    snapshot(old, D - timedelta(days=30), facts=commit_facts(0.75))
    snapshot(old, D, facts=commit_facts(0.8))
    snapshot(new, D - timedelta(days=30), facts=commit_facts(0.6))
    snapshot(new, D, facts=commit_facts(0.8))

    raised = nudges.nudges_raise(as_of=D, account_ids=[old.pk, new.pk], since_days=30)

    assert [(n.account.external_id, n.kind) for n in raised] == [("new-news", "throughput_70")]


def test_70_percent_of_throughput_raises_one_nudge_per_period():
    a = digital(external_id="tiny", name="Tinybyte Labs")
    snapshot(a, D, facts=commit_facts(0.74))

    [n] = raise_for(a)

    assert (n.kind, n.key) == ("throughput_70", "70:2026-01-01")
    assert n.message == (
        "You have used 74% of the throughput you committed to for this period "
        "(ends 2026-12-31). Top up or move to a bigger commit to keep your "
        "pipelines running."
    )
    assert n.payload == {
        "account": "tiny",
        "as_of": D.isoformat(),
        "threshold": 0.7,
        "consumed_share": 0.74,
        "consumed": 740000.0,
        "commit": 1_000_000,
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
    }
    assert n.status == "pending"
    assert raise_for(a) == []
    snapshot(a, D, facts=commit_facts(0.8))
    assert raise_for(a) == []
    assert rows(a) == [("throughput_70", "70:2026-01-01")]


def test_90_percent_follows_and_a_new_period_starts_over():
    a = digital()
    snapshot(a, D, facts=commit_facts(0.72))
    raise_for(a)
    snapshot(a, D, facts=commit_facts(0.91))
    assert [n.kind for n in raise_for(a)] == ["throughput_90"]
    snapshot(a, D, facts=commit_facts(0.75, period_start="2027-01-01", period_end="2027-12-31"))
    assert [n.key for n in raise_for(a)] == ["70:2027-01-01"]
    assert rows(a) == [
        ("throughput_70", "70:2026-01-01"),
        ("throughput_70", "70:2027-01-01"),
        ("throughput_90", "90:2026-01-01"),
    ]


def test_first_seen_past_90_gets_only_the_90_nudge_and_never_a_late_70():
    a = digital()
    snapshot(a, D, facts=commit_facts(0.95))
    assert [n.kind for n in raise_for(a)] == ["throughput_90"]
    assert raise_for(a) == []
    assert rows(a) == [("throughput_90", "90:2026-01-01")]


def test_only_the_digital_tier_and_only_with_a_commit():
    scaled = AccountFactory(tier=2)
    snapshot(scaled, D, facts=commit_facts(0.95))
    no_commit = digital()
    snapshot(no_commit, D, facts={"consumed_share": None, "period_start": None})
    below = digital()
    snapshot(below, D, facts=commit_facts(0.69))
    assert raise_for(scaled, no_commit, below) == []


def test_backfills_raise_nothing():
    a = digital()
    snapshot(a, D - timedelta(days=10), facts=commit_facts(0.95))
    assert nudges.nudges_raise(as_of=D - timedelta(days=10)) == []
    assert not Nudge.objects.exists()


def _units(account, chain: str, per_day: float, days: int = 28, start: int = 0):
    for n in range(start, start + days):
        usage(account, D - timedelta(days=n), "units", per_day, chain=chain, product="developer")


def test_ethereum_heavy_and_never_on_l2s_gets_the_base_nudge_once():
    heavy = digital(external_id="ethdev")
    snapshot(heavy, D)
    _units(heavy, "ethereum", 90)
    _units(heavy, "polygon", 10)
    usage(heavy, D - timedelta(days=40), "units", 9999, chain="ethereum")  # outside 28 days

    [n] = raise_for(heavy)

    assert (n.kind, n.key) == ("cross_chain", "ethereum>base")
    assert n.message == (
        "You query Ethereum heavily (90% of your units in the last 28 days). "
        "The same query runs on Base: same schema, same tables, change one "
        "word."
    )
    assert n.payload == {
        "account": "ethdev",
        "as_of": D.isoformat(),
        "chain": "ethereum",
        "suggested_chain": "base",
        "share": 0.9,
        "units_28": 2520.0,
        "window_days": 28,
    }
    assert raise_for(heavy) == []


def test_no_cross_chain_nudge_when_they_know_an_l2_or_are_not_heavy_enough():
    knows_arbitrum, mixed, tiny = digital(), digital(), digital()
    for a in (knows_arbitrum, mixed, tiny):
        snapshot(a, D)
    _units(knows_arbitrum, "ethereum", 100)
    usage(knows_arbitrum, D - timedelta(days=120), "queries", 1, chain="arbitrum")  # long ago
    _units(mixed, "ethereum", 70)
    _units(mixed, "solana", 30)
    _units(tiny, "ethereum", 10, days=5)  # 50 units: too little to mean anything
    failed = digital()
    snapshot(failed, D)
    _units(failed, "ethereum", 100)
    # A failed query aimed at Base is not usage on Base: they still get the nudge.
    usage(failed, D - timedelta(days=2), "failed_queries", 3, chain="base", reason="timeout")

    raised = raise_for(knows_arbitrum, mixed, tiny, failed)

    assert [(n.account_id, n.kind) for n in raised] == [(failed.pk, "cross_chain")]


def test_raising_is_set_based_a_fixed_number_of_queries():
    def run(n: int) -> int:
        Account.objects.all().delete()
        for _ in range(n):
            a = digital()
            snapshot(a, D, facts=commit_facts(0.75))
            _units(a, "ethereum", 400, days=3)
        with CaptureQueriesContext(connection) as ctx:
            assert len(nudges.nudges_raise(as_of=D)) == 2 * n
        return len(ctx.captured_queries)

    assert run(2) == run(10) <= 8


# --- delivery ---------------------------------------------------------------------------------


def _raise_and_deliver(django_capture_on_commit_callbacks, share=0.74) -> Nudge:
    a = digital(external_id="tiny", name="Tinybyte Labs")
    snapshot(a, D, facts=commit_facts(share))
    with django_capture_on_commit_callbacks(execute=True):
        [n] = raise_for(a)
    n.refresh_from_db()
    return n


def test_delivered_to_the_webhook_with_a_valid_signature(
    webhook, django_capture_on_commit_callbacks
):
    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    [request] = webhook.requests
    raw, headers = request["body"], request["headers"]
    assert request["path"] == "/hooks/nudges"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-CSPortal-Event"] == "nudge.throughput_70"
    expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-CSPortal-Signature"], f"sha256={expected}")
    body = json.loads(raw)
    assert body["event"] == "nudge.throughput_70"
    assert (body["id"], body["account"], body["key"]) == (n.pk, "tiny", "70:2026-01-01")
    assert body["message"] == n.message
    assert body["data"]["consumed_share"] == 0.74
    assert (n.status, n.attempts, n.last_error) == ("sent", 1, "")
    assert n.sent_at is not None


def test_a_tampered_body_does_not_verify(webhook, django_capture_on_commit_callbacks):
    _raise_and_deliver(django_capture_on_commit_callbacks)
    [request] = webhook.requests
    tampered = request["body"].replace(b"0.74", b"0.99")
    signature = "sha256=" + hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest()
    assert signature != request["headers"]["X-CSPortal-Signature"]


def test_a_500_is_retried_then_sent(webhook, django_capture_on_commit_callbacks):
    webhook.plan = [500, 503]

    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert len(webhook.requests) == 3
    assert len({r["body"] for r in webhook.requests}) == 1  # the same signed event each time
    assert (n.status, n.attempts, n.last_error) == ("sent", 3, "")


def test_a_receiver_that_keeps_failing_ends_failed_with_the_error(
    webhook, django_capture_on_commit_callbacks
):
    webhook.default = 500

    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert len(webhook.requests) == nudge_rules.MAX_RETRIES + 1
    assert (n.status, n.attempts, n.last_error) == (
        "failed",
        nudge_rules.MAX_RETRIES + 1,
        "HTTP 500 from the webhook",
    )
    assert n.sent_at is None


def test_a_timeout_is_retried(webhook, django_capture_on_commit_callbacks):
    webhook.plan = [("sleep", 1.2)]

    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert len(webhook.requests) == 2
    assert (n.status, n.attempts) == ("sent", 2)


def test_a_4xx_is_final_without_retrying(webhook, django_capture_on_commit_callbacks):
    webhook.default = 400

    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert len(webhook.requests) == 1
    assert (n.status, n.attempts, n.last_error) == ("failed", 1, "HTTP 400 from the webhook")


def test_unset_url_is_skipped_and_nothing_is_sent(
    webhook_server, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.NUDGE_WEBHOOK_URL = ""

    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert webhook_server.requests == []
    assert (n.status, n.attempts, n.last_error) == ("skipped", 0, "NUDGE_WEBHOOK_URL is not set")


def test_an_unreachable_receiver_is_retried_and_recorded(
    settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.NUDGE_WEBHOOK_URL = "http://127.0.0.1:9/nowhere"  # discard port: refused
    settings.ALERT_HTTP_TIMEOUT = 0.5

    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert (n.status, n.attempts) == ("failed", nudge_rules.MAX_RETRIES + 1)
    assert n.last_error.startswith("could not reach the webhook")


def test_a_duplicate_task_after_sending_sends_nothing(webhook, django_capture_on_commit_callbacks):
    n = _raise_and_deliver(django_capture_on_commit_callbacks)

    assert tasks.deliver_nudge.delay(n.pk).get() == "sent"
    assert nudges.nudge_deliver(nudge_id=n.pk) == "sent"
    assert len(webhook.requests) == 1
    n.refresh_from_db()
    assert n.attempts == 1


def test_the_recompute_commits_before_anything_is_posted(
    webhook, django_capture_on_commit_callbacks
):
    a = digital()
    snapshot(a, D, facts=commit_facts(0.74))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        raise_for(a)
    assert webhook.requests == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    assert len(webhook.requests) == 1


# --- the page ---------------------------------------------------------------------------------


@pytest.fixture
def listed():
    a = digital(external_id="tiny", name="Tinybyte Labs")
    b = digital(external_id="ethdev", name="Ether Devs")
    Nudge.objects.create(
        account=a,
        kind="throughput_70",
        key="70:2026-01-01",
        message="You have used 74% of the throughput",
        status="sent",
        attempts=1,
    )
    Nudge.objects.create(
        account=b,
        kind="cross_chain",
        key="ethereum>base",
        message="You query Ethereum heavily",
        status="failed",
        attempts=6,
        last_error="HTTP 500 from the webhook",
    )


def test_nudges_page_lists_delivery_status_and_errors(listed, pat_client, settings):
    settings.NUDGE_WEBHOOK_URL = "https://hooks.example/nudges"
    response = pat_client.get("/nudges/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Tinybyte Labs" in body and "Ether Devs" in body
    assert "HTTP 500 from the webhook" in body
    assert "No webhook is configured" not in body


def test_nudges_filters_and_htmx_fragment(listed, alice_client):
    body = alice_client.get("/nudges/?kind=cross_chain").content.decode()
    assert "Ether Devs" in body and "Tinybyte Labs" not in body
    body = alice_client.get("/nudges/?status=sent").content.decode()
    assert "Tinybyte Labs" in body and "Ether Devs" not in body
    response = alice_client.get("/nudges/?status=failed", headers={"HX-Request": "true"})
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="nudge-rows">')
    assert "Ether Devs" in fragment and "<html" not in fragment
    assert "HX-Request" in response["Vary"]
    assert (
        "No nudge matches these filters"
        in alice_client.get("/nudges/?kind=throughput_90").content.decode()
    )


def test_nudges_bad_query_strings_are_400_with_a_message(listed, alice_client):
    for query, message in (
        ("kind=shout", "kind must be one of"),
        ("status=lost", "status must be one of"),
        ("page=0", "page must be a positive whole number"),
        ("page=%C2%B2", "page must be a positive whole number"),
    ):
        response = alice_client.get(f"/nudges/?{query}")
        assert response.status_code == 400, query
        assert message in response.content.decode()


def test_nudges_empty_state_and_no_writes_on_get(alice_client, settings):
    settings.NUDGE_WEBHOOK_URL = ""
    before = table_rows()
    body = alice_client.get("/nudges/").content.decode()
    assert "No nudges yet" in body
    assert "No webhook is configured" in body
    assert table_rows() == before


def test_a_schema_change_nudge_made_elsewhere_is_delivered_the_same_way(
    webhook, django_capture_on_commit_callbacks
):
    """Another part of the portal creates schema-change heads-ups for tier-3 accounts; this
    app's webhook path delivers them like any nudge, signed, with the kind in the event."""
    a = digital(external_id="tiny", name="Tinybyte Labs")
    n = Nudge.objects.create(
        account=a,
        kind=Nudge.Kind.SCHEMA_CHANGE,
        key="dex.trades:2026-12-01",
        message="dex.trades drops the `amount_usd_raw` column on 2026-12-01: use `amount_usd`.",
        payload={"dataset": "dex.trades", "effective": "2026-12-01"},
    )
    assert n.get_kind_display() == "Schema change heads-up"

    with django_capture_on_commit_callbacks(execute=True):
        nudges.nudges_enqueue([n.pk])

    [request] = webhook.requests
    assert request["headers"]["X-CSPortal-Event"] == "nudge.schema_change"
    expected = hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-CSPortal-Signature"] == f"sha256={expected}"
    body = json.loads(request["body"])
    assert (body["event"], body["account"], body["key"]) == (
        "nudge.schema_change",
        "tiny",  # from the account when the payload does not carry it
        "dex.trades:2026-12-01",
    )
    assert body["data"] == {"dataset": "dex.trades", "effective": "2026-12-01"}
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("sent", 1)
