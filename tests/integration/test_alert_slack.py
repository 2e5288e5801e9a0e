"""End to end on the real stack: usage that turns an account red raises its alerts, starts its
play for the right CSM and posts one Block Kit message to a real HTTP server standing in for
Slack, all through a real Celery worker; recomputing again adds nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Role
from accounts.services import api_token_create
from health.models import HealthSnapshot
from health.services import health_recompute
from health.tasks import recompute_health
from playbooks.models import Alert, AlertDelivery, Play, Task
from playbooks.plays.library import playbooks_load_defaults
from tests.factories import AccountFactory, ContractFactory, UserFactory
from tests.integration.helpers import (
    POLL_SECONDS,
    post_csv,
    steady_usage,
    units_csv,
    wait_for,
    yesterday_utc,
)

pytestmark = pytest.mark.integration

SUCCEEDED = r"Task health\.tasks\.recompute_health\[[0-9a-f-]+\] succeeded"
DELIVERED = r"Task playbooks\.delivery\.deliver_alert\[[0-9a-f-]+\] succeeded"
SITE_URL = "https://portal.example"


@pytest.fixture
def worker_with_slack(slack_server, monkeypatch, request):
    """The real worker, started with SLACK_WEBHOOK_URL pointing at the fake Slack."""
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_server.url)
    monkeypatch.setenv("ALERT_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("SITE_URL", SITE_URL)
    return request.getfixturevalue("celery_worker_process")


def test_usage_collapse_alerts_starts_the_play_and_posts_one_slack_message(
    live_server, worker_with_slack, slack_server
):
    worker = worker_with_slack
    day = yesterday_utc()
    token = api_token_create(user=UserFactory(role=Role.MANAGER))
    csm = UserFactory(role=Role.CSM, email="carol@cs.example", name="Carol Chen")
    UserFactory(role=Role.CSM, email="dave@cs.example", name="Dave Other")
    account = AccountFactory(external_id="steady", name="Steady Labs", tier=2, seats=10, csm=csm)
    # Renewal beyond 90 days: the collapse is the only story here.
    ContractFactory(
        account=account,
        start=day - timedelta(days=200),
        end=day + timedelta(days=165),
        arr=Decimal("90000"),
    )
    playbooks_load_defaults()
    steady_usage(account, until=day)
    health_recompute(as_of=day - timedelta(days=1), account_ids=[account.pk])
    health_recompute(as_of=day, account_ids=[account.pk])
    before = HealthSnapshot.objects.get(account=account, date=day)
    assert before.band == "green"
    assert Alert.objects.count() == 0

    # The last 7 days collapse to 10%, posted through the import API.
    csv = units_csv("steady", until=day, units=100)
    status, body = post_csv(f"{live_server.url}/api/v1/import/usage", token, csv)
    assert status == 200, body

    # Within seconds: the alerts exist …
    alerts = wait_for(lambda: list(Alert.objects.filter(account=account).order_by("kind")))
    assert alerts, f"no alert within {POLL_SECONDS} s:\n{worker.log()}"
    after = HealthSnapshot.objects.get(account=account, date=day)
    assert after.band == "red"
    assert [(a.kind, a.key, a.owner_id) for a in alerts] == [
        ("band_change", f"{day}:green>red", csm.pk),
        ("override", f"{day}:sharp_drop", csm.pk),
    ]

    # … the sharp-drop play runs, it and its tasks assigned to the account's CSM …
    play = Play.objects.get(account=account)
    assert (play.playbook.key, play.status, play.owner_id) == ("sharp-drop", "open", csm.pk)
    tasks = list(Task.objects.filter(play=play))
    assert len(tasks) == play.playbook.steps.count() > 0
    assert {t.owner_id for t in tasks} == {csm.pk}

    # … and the fake Slack received exactly one Block Kit message with the account's numbers.
    assert wait_for(lambda: worker.count(DELIVERED) >= 1), worker.log()
    time.sleep(1)  # time for a stray second message to arrive, if there were one
    assert len(slack_server.requests) == 1, slack_server.bodies
    message = slack_server.bodies[0]
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == "Steady Labs"
    assert [b["text"]["text"].split("\n")[0] for b in blocks[1:3]] == [
        "*Steady Labs moved green → red*",
        "*Steady Labs: sharp_drop override fired (health capped at red)*",
    ]
    assert blocks[2]["text"]["text"].endswith("100 units/day vs 1,000")
    renewal = day + timedelta(days=165)
    assert [f["text"] for f in blocks[3]["fields"]] == [
        f"*Health*\n{after.score} · red (was {before.score} · green)",
        "*Override*\nsharp_drop → at most red",
        "*ARR*\n$90,000",
        f"*Renewal*\n{renewal} (165 days)",
    ]
    assert blocks[4]["elements"][0]["text"] == (
        f"Band change + Override fired · as of {day} · Tier 2 · scaled · owner: Carol Chen"
    )
    assert blocks[5]["elements"][0]["url"] == f"{SITE_URL}/accounts/steady/health/"
    # A tier-2 deterioration goes to the owner's inbox and Slack at once, not the digest.
    assert sorted(AlertDelivery.objects.values_list("channel", "status", "attempts")) == [
        ("inbox", "sent", 1),
        ("inbox", "sent", 1),
        ("slack", "sent", 1),
        ("slack", "sent", 1),
    ]

    # Recompute again, on the worker: nothing new (no alert, no play, no message).
    recomputes = worker.count(SUCCEEDED)
    recompute_health.delay([account.pk])
    assert wait_for(lambda: worker.count(SUCCEEDED) > recomputes), worker.log()
    time.sleep(1)
    assert Alert.objects.filter(account=account).count() == 2
    assert Play.objects.filter(account=account).count() == 1
    assert Task.objects.filter(account=account).count() == len(tasks)
    assert len(slack_server.requests) == 1
    assert worker.count(DELIVERED) == 1, worker.log()
