"""Routing end to end: the recompute routes what it raises (owner, inbox, channels), delivery
honours it, preferences never drop a required alert, one account's alerts of one recompute are
one Slack message (against the recording server) and one story, rule changes are versioned,
and the noise figure and the editor's preview count exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from health.services import last_complete_day
from playbooks.alerts.services import alerts_raise
from playbooks.delivery.services import digests_send
from playbooks.inbox.selectors import InboxFilters, inbox_alerts, inbox_unread_count
from playbooks.models import Alert, AlertDelivery, RoutingPreference, RoutingRules
from playbooks.routing.rules import default_rules, rules_parse
from playbooks.routing.selectors import alert_noise, routing_preview
from playbooks.routing.services import preferences_save, routing_current, routing_save
from tests.factories import AccountFactory, PlayFactory, TaskFactory
from tests.playbooks.alert_helpers import make_alert, snapshot

D = last_complete_day()
SHARP = {"key": "sharp_drop", "detail": "usage below 50% of its average", "cap_band": "red"}


def day(n: int):
    return D - timedelta(days=n)


def collapse(account) -> None:
    """Green a week ago and yesterday, red today by sharp_drop: a band change, an override
    and a score drop in one recompute."""
    snapshot(account, day(7), 80, "green")
    snapshot(account, day(1), 75, "green")
    snapshot(account, D, 32, "red", overrides=[SHARP])


def improve(account) -> None:
    snapshot(account, day(1), 60, "yellow")
    snapshot(account, D, 74, "green")


def deliveries(alert) -> list[tuple]:
    return sorted(
        AlertDelivery.objects.filter(alert=alert).values_list(
            "channel", "recipient__email", "status"
        ),
        key=str,
    )


@pytest.fixture
def northwind(alice):
    return AccountFactory(external_id="northwind", name="Northwind Payments", tier=1, csm=alice)


@pytest.fixture
def tinybyte(bob):
    """A digital-tier account with a CSM on record: the pool works it all the same."""
    return AccountFactory(external_id="tinybyte", name="Tinybyte Labs", tier=3, csm=bob)


# --- the recompute routes what it raises -------------------------------------------------------


def test_a_tier_1_collapse_reaches_the_csm_inbox_and_slack_not_the_digest(
    northwind, alice, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    collapse(northwind)
    with django_capture_on_commit_callbacks(execute=True):
        raised = alerts_raise(as_of=D)

    assert sorted(a.kind for a in raised) == ["band_change", "override", "score_drop"]
    for alert in raised:
        alert.refresh_from_db()
        assert (alert.owner, alert.inbox) == (alice, "owner")
        assert alert.routing["channels"] == ["inbox", "slack"]
        assert alert.routing["rule"] == f"{alert.kind}:worse:1"
        assert alert.routing["version"] == 1
        assert deliveries(alert) == [("inbox", None, "sent"), ("slack", None, "skipped")]
    assert [a.pk for a in inbox_alerts(user=alice, filters=InboxFilters(owner="me"))] == sorted(
        (a.pk for a in raised), reverse=True
    )


def test_a_tier_3_collapse_goes_to_the_pool_and_an_improvement_only_to_the_digest(
    tinybyte, acme, alice, bob, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    collapse(tinybyte)
    improve(acme)
    with django_capture_on_commit_callbacks(execute=True):
        raised = {(a.account.external_id, a.kind): a for a in alerts_raise(as_of=D)}

    band = raised[("tinybyte", "band_change")]
    band.refresh_from_db()
    assert (band.owner, band.inbox) == (None, "owner")  # the pooled queue, not Bob's
    assert deliveries(band) == [("inbox", None, "sent")]  # never Slack
    better = raised[("acme", "band_change")]
    better.refresh_from_db()
    assert (better.owner, better.inbox, better.routing["channels"]) == (alice, "none", ["email"])
    assert deliveries(better) == [("email", "alice@cs.example", "pending")]

    pooled = inbox_alerts(user=bob, filters=InboxFilters(owner="pooled"))
    assert {a.account.external_id for a in pooled} == {"tinybyte"}
    assert inbox_alerts(user=bob, filters=InboxFilters(owner="me")).count() == 0
    assert inbox_alerts(user=alice, filters=InboxFilters(owner="me")).count() == 0
    assert inbox_unread_count(user=alice) == 0

    assert digests_send() == 1
    [email] = mail.outbox
    assert email.to == ["alice@cs.example"]
    assert "Acme Analytics: Acme Analytics moved yellow → green" in email.body


def test_a_manager_audience_gets_each_manager_a_digest_line(
    acme, alice, maya, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    rules = default_rules()
    for row in rules:
        if row["kind"] == "score_drop" and row["tier"] == 2:
            row.update(channels=["email"], audience=["csm", "manager"])
    routing_save(rules=rules, user=maya, note="managers hear score drops")
    collapse(acme)
    with django_capture_on_commit_callbacks(execute=True):
        [drop] = [a for a in alerts_raise(as_of=D) if a.kind == "score_drop"]

    assert deliveries(drop) == [
        ("email", "alice@cs.example", "pending"),
        ("email", "maya@cs.example", "pending"),
    ]
    assert digests_send() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@cs.example", "maya@cs.example"]


# --- preferences ------------------------------------------------------------------------------


def test_preferences_mute_what_is_not_required_and_never_a_required_alert(
    northwind, acme, alice, settings, django_capture_on_commit_callbacks
):
    """Alice mutes renewals and the inbox and Slack: her tier-2 renewal is silenced, her tier-1
    one (required) still reaches her inbox and Slack."""
    settings.SLACK_WEBHOOK_URL = ""
    preferences_save(user=alice, muted_kinds=["renewal_risk"], muted_channels=["inbox", "slack"])
    for account in (northwind, acme):
        from tests.factories import ContractFactory

        ContractFactory(account=account, start=D - timedelta(days=300), end=D + timedelta(days=60))
        snapshot(account, day(1), 55, "yellow")
        snapshot(account, D, 55, "yellow")
    with django_capture_on_commit_callbacks(execute=True):
        raised = {a.account.external_id: a for a in alerts_raise(as_of=D)}

    tier1, tier2 = raised["northwind"], raised["acme"]
    tier1.refresh_from_db()
    tier2.refresh_from_db()
    assert (tier1.kind, tier1.inbox, tier1.routing["required"]) == ("renewal_risk", "owner", True)
    assert deliveries(tier1) == [("inbox", None, "sent"), ("slack", None, "skipped")]
    assert tier1.routing["muted"] == []
    assert (tier2.inbox, tier2.routing["channels"]) == ("none", [])
    assert deliveries(tier2) == []
    assert tier2.routing["muted"] == [
        {"user": alice.pk, "channel": "inbox"},
        {"user": alice.pk, "channel": "slack"},
    ]
    assert [a.pk for a in inbox_alerts(user=alice, filters=InboxFilters(owner="me"))] == [tier1.pk]


def test_a_fully_required_kind_cannot_be_muted_and_nothing_is_saved(alice, maya):
    rules = default_rules()
    for row in rules:
        if row["kind"] == "score_drop":
            row.update(required=True)
    routing_save(rules=rules, user=maya)

    with pytest.raises(ValidationError, match="every rule that sends it is required"):
        preferences_save(user=alice, muted_kinds=["score_drop"], muted_channels=[])

    assert not RoutingPreference.objects.exists()


# --- batching ---------------------------------------------------------------------------------


def test_one_accounts_alerts_of_one_recompute_are_one_slack_message_and_one_story(
    slack, northwind, alice, django_capture_on_commit_callbacks
):
    globex = AccountFactory(external_id="globex", name="Globex", tier=2, csm=alice)
    collapse(northwind)
    collapse(globex)
    with django_capture_on_commit_callbacks(execute=True):
        raised = alerts_raise(as_of=D)

    assert len(raised) == 6
    stories = {a.account.external_id: a.story for a in raised}
    assert len(set(stories.values())) == 2
    assert len({a.story for a in raised if a.account == northwind}) == 1
    assert len(slack.requests) == 2  # one message per account, not six
    northwind_msg = next(
        b for b in slack.bodies if b["blocks"][0]["text"]["text"] == "Northwind Payments"
    )
    sections = [
        b["text"]["text"].split("\n")[0]
        for b in northwind_msg["blocks"]
        if b["type"] == "section" and "text" in b
    ]
    assert sections == [
        "*Northwind Payments moved green → red*",
        "*Northwind Payments: sharp_drop override fired (health capped at red)*",
        "*Northwind Payments dropped 48 points in 7 days (80 → 32)*",
    ]
    assert set(AlertDelivery.objects.filter(channel="slack").values_list("status", flat=True)) == {
        "sent"
    }


def test_a_later_recompute_is_a_new_story_and_a_new_message(
    slack, northwind, django_capture_on_commit_callbacks
):
    snapshot(northwind, day(1), 75, "green")
    snapshot(northwind, D, 55, "yellow")
    with django_capture_on_commit_callbacks(execute=True):
        [first] = alerts_raise(as_of=D)
    snapshot(northwind, D, 30, "red", overrides=[SHARP])
    with django_capture_on_commit_callbacks(execute=True):
        later = alerts_raise(as_of=D)

    assert {a.kind for a in later} == {"band_change", "override"}
    assert len({a.story for a in later}) == 1 and later[0].story != first.story
    assert len(slack.requests) == 2


# --- versions ---------------------------------------------------------------------------------


def test_every_change_is_a_new_version_with_its_author_and_the_next_alert_uses_it(
    northwind, alice, maya, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    assert routing_current().version == 1
    rules = default_rules()
    for row in rules:
        if row["kind"] == "band_change" and row["direction"] == "worse" and row["tier"] == 1:
            row.update(channels=["inbox"])
    v2 = routing_save(rules=rules, user=maya, note="no Slack for tier-1 band changes")

    assert list(RoutingRules.objects.values_list("version", "created_by__email", "note")) == [
        (2, "maya@cs.example", "no Slack for tier-1 band changes"),
        (1, None, "Defaults"),
    ]
    assert v2.created_at is not None
    snapshot(northwind, day(1), 75, "green")
    snapshot(northwind, D, 55, "yellow")
    with django_capture_on_commit_callbacks(execute=True):
        [alert] = alerts_raise(as_of=D)
    alert.refresh_from_db()
    assert (alert.routing["version"], alert.routing["channels"]) == (2, ["inbox"])
    assert deliveries(alert) == [("inbox", None, "sent")]


def test_a_csm_cannot_change_the_routing_and_nothing_is_saved(alice):
    routing_current()
    with pytest.raises(PermissionDenied):
        routing_save(rules=default_rules(), user=alice)
    assert RoutingRules.objects.count() == 1


# --- the noise figure and the preview ---------------------------------------------------------


@pytest.fixture
def month(alice, bob, acme):
    """Four weeks of hand-built alerts: Alice gets 6 (one acknowledged within 2 days, one
    acknowledged after 3, one whose play had a task done, one followed by a task done on the
    account the next day, two left alone), Bob 2 (none acted on), the pool 1; an improvement
    and a commit threshold of Alice's went only to her digest."""
    globex = AccountFactory(external_id="globex", name="Globex", tier=2, csm=bob)
    digital = AccountFactory(external_id="digital", name="Digital", tier=3, csm=None)
    now = timezone.now()
    routed = {"version": 1, "channels": ["inbox", "slack"], "email_to": []}

    created = iter(range(3, 60, 3))  # days ago: three apart, so each has its own two days

    def alert(account, key, reached, **kw):
        ago = timedelta(days=next(created))
        a = make_alert(account, key=key, as_of=day(3), created_ago=ago, **kw)
        Alert.objects.filter(pk=a.pk).update(routing=routed | {"reached": reached})
        return a

    acked = alert(acme, "a1", [alice.pk])
    Alert.objects.filter(pk=acked.pk).update(acknowledged_at=acked.created_at + timedelta(hours=5))
    late = alert(acme, "a2", [alice.pk])
    Alert.objects.filter(pk=late.pk).update(acknowledged_at=late.created_at + timedelta(days=3))
    played = alert(acme, "a3", [alice.pk])
    play = PlayFactory(account=acme, alert=played)
    TaskFactory(account=acme, play=play, status="done", completed_at=now - timedelta(days=20))
    tasked = alert(acme, "a4", [alice.pk])
    TaskFactory(account=acme, status="done", completed_at=tasked.created_at + timedelta(days=1))
    alert(acme, "a5", [alice.pk])
    alert(acme, "a6", [alice.pk])
    alert(globex, "b1", [bob.pk])
    alert(globex, "b2", [bob.pk])
    pooled = make_alert(digital, key="p1", as_of=day(3), owner=None)
    Alert.objects.filter(pk=pooled.pk).update(routing=routed | {"reached": []}, story="s-digital")
    digest = {"version": 1, "channels": ["email"], "email_to": [alice.pk]}
    for key in ("d1", "d2"):
        d = make_alert(acme, key=key, as_of=day(4))
        Alert.objects.filter(pk=d.pk).update(routing=digest | {"reached": [alice.pk]}, inbox="none")
    make_alert(acme, key="old", as_of=day(40))  # outside the window
    return day(27), D


def test_the_noise_figure_counts_delivered_alerts_and_the_share_acted_on(month, alice, bob):
    since, until = month
    noise = alert_noise(since=since, until=until)

    assert noise.weeks == 4
    assert [(r.name, r.delivered, r.acted) for r in noise.rows] == [
        ("Alice Archer", 8, 3),
        ("Bob Baker", 2, 0),
    ]
    assert (noise.delivered, noise.acted, noise.pooled, noise.silent) == (10, 3, 1, 0)
    assert noise.per_csm_week == 10 / 2 / 4
    assert noise.share == 0.3
    assert [r.per_week for r in noise.rows] == [2.0, 0.5]
    # Slack: one message per story; these hand-built alerts predate stories, so one per
    # account and day (Acme, Globex, the digital account).
    assert dict(noise.channels) == {"inbox": 9, "slack": 3, "email": 2}
    assert [r.at_once for r in noise.rows] == [6, 2]  # Alice's two digest lines wait
    assert noise.at_once_per_csm_week == 8 / 2 / 4
    only_bob = alert_noise(since=since, until=until, csm=bob)
    assert [(r.name, r.delivered) for r in only_bob.rows] == [("Bob Baker", 2)]


def test_the_preview_reruns_the_window_through_the_current_rules_and_a_draft(month, alice):
    current = rules_parse(default_rules())
    draft = default_rules()
    for row in draft:
        if row["kind"] == "band_change" and row["tier"] == 2:
            row.update(channels=[])
    preview = routing_preview(current=current, draft=rules_parse(draft))

    # make_alert's rows are green → red band changes: tier 2 goes to the CSM's inbox and Slack
    # (Alice 8, Bob 2); tier 3 to the pool. The draft silences tier 2's.
    before, after = preview.before, preview.after
    assert [(r.name, r.delivered, r.acted) for r in before.rows] == [
        ("Alice Archer", 8, 3),
        ("Bob Baker", 2, 0),
    ]
    assert (before.pooled, before.silent) == (1, 0)
    assert [(r.name, r.delivered) for r in after.rows] == [("Alice Archer", 0), ("Bob Baker", 0)]
    assert (after.pooled, after.silent) == (1, 10)
    assert preview.changed
    assert not routing_preview(current=current, draft=current).changed
