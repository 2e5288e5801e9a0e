"""Alerts describe settled state: one book, loaded in different file orders (seconds apart,
through the pipeline the `import_data` command uses and through the import API), ends with the
same alerts, plays, tasks, deliveries and nudges, and none describes a state the account is not
in once the load has finished. Real PostgreSQL, Redis and Celery worker; a real HTTP server
stands in for Slack.
"""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command

from accounts.models import Role
from accounts.services import api_token_create
from cs_portal.imports import run_import
from demo import book as demo
from demo import usage as health_demo
from health.imports import USAGE_COLUMNS
from health.models import HealthSnapshot, RecomputeRequest
from playbooks.models import Alert, AlertDelivery, DeliveryStatus, Nudge, Play, Task
from tests.factories import UserFactory
from tests.integration.helpers import wait_for, yesterday_utc

pytestmark = [
    pytest.mark.integration,
    # Files arrive a second apart; the load settles after 6 s of quiet.
    pytest.mark.worker_env(RECOMPUTE_SETTLE_SECONDS="6", ALERT_DELIVERY_GRACE_SECONDS="2"),
]

README_ORDER = ("users", "accounts", "contracts", "contacts", "touchpoints", "incidents", "usage")
# Touchpoints name their contact, so contacts come before them in any order.
USAGE_FIRST = ("users", "accounts", "usage", "incidents", "contacts", "touchpoints", "contracts")
RECOMPUTED = r"recomputed health for \d+ accounts"
GAP_SECONDS = 1.0


@pytest.fixture
def worker_with_slack(slack_server, monkeypatch, request):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_server.url)
    return request.getfixturevalue("celery_worker_process")


def demo_files():
    """The demo book's rows per kind, anchored on today (usage runs through yesterday)."""
    today = yesterday_utc() + timedelta(days=1)
    book = demo.build_book(today)
    story = health_demo.apply_stories(book, today, demo.SEED)
    return {kind: book[kind] if kind in demo.BOOK_KINDS else story[kind] for kind in README_ORDER}


def usage_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=USAGE_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def post(url: str, token: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status


def load(files, order, *, via: str, live_server=None, token: str = "") -> None:
    for kind in order:
        rows = files[kind]
        if via == "pipeline":  # what `manage.py import_data KIND PATH` runs
            if kind == "usage":
                result = run_import(kind, data=usage_csv(rows).encode(), origin="cli")
            else:
                result = run_import(kind, json_rows=rows, origin="cli")
            assert result.ok, result.errors[:5]
        else:
            url = f"{live_server.url}/api/v1/import/{kind}"
            if kind == "usage":
                status = post(url, token, usage_csv(rows).encode(), "text/csv")
            else:
                status = post(url, token, json.dumps({"rows": rows}).encode(), "application/json")
            assert status == 200, kind
        time.sleep(GAP_SECONDS)


def settled(worker, recomputes_before: int):
    """Wait until the load has been scored and every alert's Slack message has had its say
    (each alert has the deliveries its routing names, none still pending or retrying), twice,
    a grace period apart, so nothing queued late is missed."""

    def done():
        if RecomputeRequest.objects.exists():
            return False
        if worker.count(RECOMPUTED) <= recomputes_before:
            return False
        alerts = list(Alert.objects.prefetch_related("deliveries"))
        if not alerts or any(
            not set(a.routing.get("channels", [])) <= {d.channel for d in a.deliveries.all()}
            for a in alerts
        ):
            return False  # the deliveries its routing names are recorded after it commits
        return not AlertDelivery.objects.filter(
            channel="slack", status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
        ).exists()

    for _ in range(2):
        assert wait_for(done, seconds=120), worker.log()[-5000:]
        time.sleep(3)  # longer than the delivery grace: a stray late task would show up here
    assert not RecomputeRequest.objects.exists()


def outcome() -> dict[str, list[tuple]]:
    return {
        "alerts": sorted(
            Alert.objects.values_list("account__external_id", "kind", "key", "title", "status")
        ),
        "plays": sorted(
            Play.objects.values_list("account__external_id", "playbook__key", "status")
        ),
        "tasks": sorted(
            Task.objects.values_list("account__external_id", "title", "status", "owner__email")
        ),
        "deliveries": sorted(
            AlertDelivery.objects.values_list(
                "alert__account__external_id", "alert__kind", "alert__key", "channel", "status"
            )
        ),
        "nudges": sorted(Nudge.objects.values_list("account__external_id", "kind", "key")),
    }


def assert_none_stale() -> None:
    """Every alert still open describes the account as it is at the end of the load."""
    day = yesterday_utc()
    snaps = {s.account_id: s for s in HealthSnapshot.objects.filter(date=day)}
    for alert in Alert.objects.exclude(status="resolved"):
        snap = snaps[alert.account_id]
        if alert.kind == "override":
            assert alert.data["override"] in {o["key"] for o in snap.overrides}, alert.title
        elif alert.kind == "renewal_risk":
            assert snap.band != "green", alert.title
        elif alert.kind == "commit_threshold":
            assert snap.facts["consumed_share"] >= alert.data["threshold"], alert.title
        elif alert.kind == "band_change":
            assert snap.band == alert.data["band"], alert.title


def reset_book() -> None:
    """An empty install again (flush re-creates the default playbooks, as migrate does)."""
    call_command("flush", interactive=False, verbosity=0)


def test_one_book_in_two_file_orders_ends_with_the_same_alerts_and_none_stale(
    live_server, worker_with_slack, slack_server
):
    worker = worker_with_slack
    files = demo_files()

    load(files, README_ORDER, via="pipeline")
    settled(worker, 0)
    first = outcome()
    assert_none_stale()
    messages_first = len(slack_server.requests)
    recomputes = worker.count(RECOMPUTED)
    # The whole load was scored once, together: no half-loaded book was ever scored.
    assert recomputes == 1, worker.log()[-3000:]

    reset_book()
    admin = UserFactory(role=Role.ADMIN, email="loader@platform.example")
    token = api_token_create(user=admin)
    load(files, USAGE_FIRST, via="api", live_server=live_server, token=token)
    settled(worker, recomputes)
    second = outcome()
    assert_none_stale()
    assert worker.count(RECOMPUTED) == recomputes + 1, worker.log()[-3000:]

    # Not vacuous: the demo's planted stories raise alerts, start plays and send Slack.
    kinds = {kind for _, kind, *_ in first["alerts"]}
    assert {"override", "commit_threshold"} <= kinds, first["alerts"]
    assert first["plays"] and first["tasks"]
    assert messages_first > 0
    for part in ("alerts", "plays", "tasks", "deliveries", "nudges"):
        assert second[part] == first[part], part
    assert len(slack_server.requests) == 2 * messages_first
