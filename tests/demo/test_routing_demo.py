"""Alert routing on the demo book, seeded on the live day: on day one a CSM's inbox holds only
their own accounts' deteriorations, the pooled queue the digital tier's (the usage spike among
them), improvements wait for the digest, one account's alerts are one story, commit thresholds
are crossings of the catch-up window, and the manager sees the noise figure."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from accounts.models import Account, User
from demo import usage as health_demo
from demo.management.commands import seed_demo as seed_cmd
from health.models import HealthSnapshot
from playbooks.inbox.selectors import InboxFilters, inbox_alerts
from playbooks.models import Alert, AlertDelivery, AlertKind
from playbooks.routing.rules import BETTER, WORSE, direction_of
from playbooks.routing.selectors import alert_noise, noise_window

pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.xdist_group("demo_book")]
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CSM = "csm@demo.csportal.test"
MANAGER = "manager@demo.csportal.test"


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo book on the live day (alerts are only raised for it), with 31 days of snapshots:
    the seed's catch-up compares the last day with the one 30 days before. Rolled back after."""
    from django.conf import settings

    hashers = settings.PASSWORD_HASHERS
    settings.PASSWORD_HASHERS = FAST_HASHERS
    patch = pytest.MonkeyPatch()
    patch.setattr(seed_cmd, "BACKFILL_DAYS", 31)
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            call_command("seed_demo", stdout=StringIO())
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            settings.PASSWORD_HASHERS = hashers
            patch.undo()


@pytest.fixture
def csm(seeded) -> User:
    return User.objects.get(email=CSM)


def test_a_csms_inbox_holds_only_their_accounts_deteriorations(csm):
    mine = list(inbox_alerts(user=csm, filters=InboxFilters(owner="me")))

    assert len(mine) >= 3
    assert {direction_of(a.kind, a.data) for a in mine} == {WORSE}
    assert {a.account.csm_id for a in mine} == {csm.pk}
    assert {a.account.tier for a in mine} <= {1, 2}
    # Every alert on their accounts that is news at once is there; improvements are not.
    owned = Alert.objects.filter(account__csm=csm).exclude(kind=AlertKind.EXPANSION_HANDOFF)
    at_once = [
        a for a in owned if direction_of(a.kind, a.data) == WORSE and a.account.tier in (1, 2)
    ]
    assert sorted(a.pk for a in mine) == sorted(a.pk for a in at_once)


def test_the_pooled_queue_holds_the_digital_tier_and_its_usage_spike(csm):
    pooled = list(inbox_alerts(user=csm, filters=InboxFilters(owner="pooled")))

    assert {a.account.tier for a in pooled} == {3}
    spike_account = health_demo.STORIES["tier3_spike"]
    spikes = [a for a in pooled if a.kind == AlertKind.USAGE_SPIKE]
    assert [a.account.external_id for a in spikes] == [spike_account]
    assert {direction_of(a.kind, a.data) for a in pooled if a.kind != AlertKind.USAGE_SPIKE} == {
        WORSE
    }
    # never Slack for the tier's band changes
    assert not AlertDelivery.objects.filter(
        alert__in=[a for a in pooled if a.kind == AlertKind.BAND_CHANGE], channel="slack"
    ).exists()


def test_improvements_wait_for_the_digest_and_reach_no_inbox(seeded):
    better = [
        a
        for a in Alert.objects.exclude(kind=AlertKind.EXPANSION_HANDOFF)
        if direction_of(a.kind, a.data) == BETTER and a.kind != AlertKind.USAGE_SPIKE
    ]

    assert better  # the book has improvements and commit thresholds
    assert {a.inbox for a in better} == {"none"}
    channels = set(AlertDelivery.objects.filter(alert__in=better).values_list("channel", flat=True))
    assert channels <= {"email"}


def test_one_accounts_alerts_of_the_recompute_are_one_story(seeded):
    raised = Alert.objects.exclude(kind=AlertKind.EXPANSION_HANDOFF)
    stories: dict[int, set[str]] = {}
    for account_id, story in raised.values_list("account_id", "story"):
        stories.setdefault(account_id, set()).add(story)

    assert all(len(s) == 1 for s in stories.values())
    assert raised.count() > len(stories)  # some accounts crossed more than one threshold


def test_commit_thresholds_are_crossings_of_the_catch_up_window(seeded):
    """Each commit alert's account was under that threshold (or in another contract period)
    on the day the seed's catch-up compares with: none is a crossing months old."""
    alerts = list(Alert.objects.filter(kind=AlertKind.COMMIT_THRESHOLD))
    as_of = alerts[0].as_of
    before = dict(
        HealthSnapshot.objects.filter(
            date=as_of - timedelta(days=seed_cmd.ALERT_CATCH_UP_DAYS)
        ).values_list("account_id", "facts")
    )
    assert alerts
    for alert in alerts:
        facts = before.get(alert.account_id) or {}
        same_period = facts.get("period_start") == alert.key.split(":", 1)[1]
        assert not same_period or (facts.get("consumed_share") or 0) < alert.data["threshold"]


def test_the_manager_sees_the_noise_figure(seeded):
    client = Client()
    client.force_login(User.objects.get(email=MANAGER))
    since, until = noise_window()
    noise = alert_noise(since=since, until=until)

    page = client.get("/cockpit/noise/").content.decode()

    assert noise.delivered > 0 and len(noise.rows) == User.objects.filter(role="csm").count()
    assert f'data-testid="noise-per-week">{noise.per_csm_week:.1f}<' in page
    for row in noise.rows:
        assert row.name in page
    assert Account.objects.filter(tier=3).exists()
