"""Alert delivery against a real HTTP server on 127.0.0.1 standing in for Slack.

One Block Kit message per alert with the account's numbers; a receiver that answers 500 or
sleeps past the timeout is retried with backoff; one that never recovers ends failed with the
error on the inbox page; a duplicated or retried task never posts twice; the daily digest sends
one email per CSM.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from slack_sdk.models.blocks import Block

from playbooks import tasks
from playbooks.delivery import services as delivery
from playbooks.delivery.rules import MAX_ATTEMPTS, DeliveryError, DigestError
from playbooks.delivery.services import deliveries_enqueue, digests_send, slack_delivery_send
from playbooks.models import AlertDelivery, AlertKind
from playbooks.tasks import deliver_alert
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks.alert_helpers import make_alert

# Fixtures shared with the other alert tests (a module-level name is how pytest finds them).

YESTERDAY = date.today() - timedelta(days=1)


@pytest.fixture
def acme_renewing(acme):
    """Acme: $120,000 ARR, renewing in 60 days."""
    ContractFactory(
        account=acme,
        start=date.today() - timedelta(days=305),
        end=date.today() + timedelta(days=60),
        arr=Decimal("120000"),
    )
    return acme


def statuses(alert) -> dict[str, tuple[str, int]]:
    return {d.channel: (d.status, d.attempts) for d in AlertDelivery.objects.filter(alert=alert)}


def enqueue(alerts, capture) -> list[int]:
    with capture(execute=True):
        return deliveries_enqueue([a.pk for a in alerts])


# --- the message ------------------------------------------------------------------------------


def test_one_block_kit_message_with_the_accounts_numbers(
    slack, acme_renewing, django_capture_on_commit_callbacks
):
    alert = make_alert(acme_renewing, key=f"{YESTERDAY}:green>red")

    enqueue([alert], django_capture_on_commit_callbacks)

    assert len(slack.requests) == 1
    request = slack.requests[0]
    assert request["path"] == "/services/T000/B000/XXXX"
    assert request["headers"]["Content-Type"] == "application/json;charset=utf-8"
    body = request["json"]
    assert body["text"] == "Acme Analytics: Acme Analytics moved green → red"
    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    for block in blocks:  # every block is valid Block Kit as slack_sdk models it
        assert Block.parse(block).to_dict() == block
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Acme Analytics", "emoji": True}
    assert blocks[1]["text"]["text"] == (
        "*Acme Analytics moved green → red*\nHealth went from 75 (green) to 32 (red)."
    )
    renewal = date.today() + timedelta(days=60)
    assert [f["text"] for f in blocks[2]["fields"]] == [
        "*Health*\n32 · red (was 75 · green)",
        "*ARR*\n$120,000",
        f"*Renewal*\n{renewal} ({(renewal - YESTERDAY).days} days)",
    ]
    assert blocks[3]["elements"][0]["text"] == (
        f"Band change · as of {YESTERDAY} · Tier 2 · scaled · owner: Alice Archer"
    )
    button = blocks[4]["elements"][0]
    assert button["url"] == "https://portal.example/accounts/acme/health/"
    assert button["text"]["text"] == "Open account health"

    assert statuses(alert) == {"inbox": ("sent", 1), "slack": ("sent", 1), "email": ("pending", 0)}
    sent = AlertDelivery.objects.get(alert=alert, channel="slack")
    assert sent.sent_at is not None and sent.last_error == ""


def test_commit_and_spike_numbers_are_quoted(slack, acme_renewing):
    alert = make_alert(
        acme_renewing,
        kind=AlertKind.COMMIT_THRESHOLD,
        key="90:2026-01-01",
        title="Acme has used 92% of its commit",
        detail="…",
        score=71,
        band="green",
        threshold=0.9,
        consumed_share=0.9234,
        consumed=337041.0,
        commit=365000.0,
    )
    spike = make_alert(
        acme_renewing,
        kind=AlertKind.USAGE_SPIKE,
        key="spike",
        title="spike",
        detail="…",
        score=80,
        band="green",
        spike_ratio=6.25,
    )

    commit_fields = delivery.slack_message(alerts=[alert])["blocks"][2]["fields"]
    spike_fields = delivery.slack_message(alerts=[spike])["blocks"][2]["fields"]

    assert [f["text"] for f in commit_fields][:2] == [
        "*Health*\n71 · green",
        "*Commit*\n92% used (337,041 of 365,000 units)",
    ]
    assert [f["text"] for f in spike_fields][:2] == [
        "*Health*\n80 · green",
        "*Usage*\n6.2× its normal level",
    ]


def test_mrkdwn_control_characters_are_escaped(slack, acme):
    alert = make_alert(acme, title="<!channel> & co", detail="a > b")

    text = delivery.slack_message(alerts=[alert])["blocks"][1]["text"]["text"]

    assert text == "*&lt;!channel&gt; &amp; co*\na &gt; b"


def test_one_accounts_alerts_of_one_batch_share_one_message(
    slack, acme_renewing, django_capture_on_commit_callbacks
):
    override = make_alert(
        acme_renewing,
        kind=AlertKind.OVERRIDE,
        key="sharp",
        title="Acme Analytics: sharp_drop",
        detail="usage below 50% … 100 units/day vs 1,000",
        score=32,
        band="red",
        override="sharp_drop",
        cap_band="red",
    )
    band = make_alert(acme_renewing, key="band")
    other = make_alert(AccountFactory(external_id="globex", name="Globex"), key="g", owner=None)

    groups = enqueue([override, band, other], django_capture_on_commit_callbacks)

    assert len(groups) == 2 and sorted(len(g) for g in groups) == [1, 2]
    assert len(slack.requests) == 2
    acme_message = next(
        b for b in slack.bodies if b["blocks"][0]["text"]["text"] == "Acme Analytics"
    )
    blocks = acme_message["blocks"]
    # The headline first (the band change), then the override behind it, one set of numbers.
    assert [b["text"]["text"].split("\n")[0] for b in blocks[1:3]] == [
        "*Acme Analytics moved green → red*",
        "*Acme Analytics: sharp_drop*",
    ]
    assert [f["text"].split("\n")[0] for f in blocks[3]["fields"]] == [
        "*Health*",
        "*Override*",
        "*ARR*",
        "*Renewal*",
    ]
    assert blocks[4]["elements"][0]["text"].startswith("Band change + Override fired · ")
    assert acme_message["text"] == (
        "Acme Analytics: Acme Analytics moved green → red; Acme Analytics: sharp_drop"
    )
    assert {d.status for d in AlertDelivery.objects.filter(channel="slack")} == {"sent"}


# --- retries and failures ---------------------------------------------------------------------


def test_500_then_200_is_retried_and_sent(slack, acme, django_capture_on_commit_callbacks):
    slack.plan = [500]
    alert = make_alert(acme)

    enqueue([alert], django_capture_on_commit_callbacks)

    assert len(slack.requests) == 2
    assert slack.bodies[0] == slack.bodies[1]  # the same message, tried again
    d = AlertDelivery.objects.get(alert=alert, channel="slack")
    assert (d.status, d.attempts, d.last_error) == ("sent", 2, "")


def test_a_failed_attempt_records_retrying_with_the_error(
    slack, acme, django_capture_on_commit_callbacks
):
    slack.plan = [500]
    alert = make_alert(acme)
    with django_capture_on_commit_callbacks(execute=False):
        delivery._deliveries_create([alert.pk])
    d = AlertDelivery.objects.get(alert=alert, channel="slack")

    with pytest.raises(DeliveryError, match="HTTP 500: internal_error"):
        slack_delivery_send(delivery_ids=[d.pk])

    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_error) == ("retrying", 1, "HTTP 500: internal_error")
    assert d.sent_at is None


def test_always_500_ends_failed_with_the_error_on_the_inbox_page(
    slack, acme, alice_client, django_capture_on_commit_callbacks
):
    slack.default = 500
    alert = make_alert(acme)

    enqueue([alert], django_capture_on_commit_callbacks)

    assert len(slack.requests) == MAX_ATTEMPTS == 6
    d = AlertDelivery.objects.get(alert=alert, channel="slack")
    assert (d.status, d.attempts, d.last_error) == ("failed", 6, "HTTP 500: internal_error")
    # The other channels are unaffected.
    assert statuses(alert)["inbox"] == ("sent", 1)
    assert statuses(alert)["email"] == ("pending", 0)

    html = alice_client.get("/inbox/").content.decode()
    assert 'data-channel="slack" data-status="failed"' in html
    assert ">Slack: failed</span>" in html
    assert (
        '<span class="delivery-error" data-testid="delivery-error">HTTP 500: '
        "internal_error (6 attempts)</span>"
    ) in html


def test_a_timeout_is_retried(slack, acme, django_capture_on_commit_callbacks):
    slack.plan = [("sleep", 1.5)]
    alert = make_alert(acme)
    with django_capture_on_commit_callbacks(execute=False):
        delivery._deliveries_create([alert.pk])
    d = AlertDelivery.objects.get(alert=alert, channel="slack")

    with pytest.raises(DeliveryError):
        slack_delivery_send(delivery_ids=[d.pk])
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_error) == ("retrying", 1, "timed out after 0.5 s")

    assert deliver_alert.delay([d.pk]).get() == "sent"
    d.refresh_from_db()
    assert (d.status, d.attempts, d.last_error) == ("sent", 2, "")
    assert len(slack.requests) == 2


def test_a_refused_connection_is_retried_then_failed(
    slack, settings, acme, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/nothing-listens-here"
    alert = make_alert(acme)

    enqueue([alert], django_capture_on_commit_callbacks)

    d = AlertDelivery.objects.get(alert=alert, channel="slack")
    assert (d.status, d.attempts) == ("failed", 6)
    assert d.last_error.startswith("ConnectionRefusedError: ")


def test_the_task_retries_with_exponential_backoff_up_to_five_times():
    assert deliver_alert.autoretry_for == (DeliveryError,)
    assert deliver_alert.max_retries == 5
    assert deliver_alert.retry_backoff == 15
    assert deliver_alert.acks_late is True


# --- idempotency ------------------------------------------------------------------------------


def test_a_duplicated_task_never_posts_a_sent_message_twice(
    slack, acme, django_capture_on_commit_callbacks
):
    alert = make_alert(acme)
    [[delivery_id]] = enqueue([alert], django_capture_on_commit_callbacks)

    assert deliver_alert.delay([delivery_id]).get() == "sent"
    assert slack_delivery_send(delivery_ids=[delivery_id]) == "sent"

    assert len(slack.requests) == 1
    assert statuses(alert)["slack"] == ("sent", 1)


def test_an_attempt_claimed_by_another_worker_is_not_posted(
    slack, acme, monkeypatch, django_capture_on_commit_callbacks
):
    alert = make_alert(acme)
    with django_capture_on_commit_callbacks(execute=False):
        [[delivery_id]] = delivery._deliveries_create([alert.pk])
    # Another copy of the task claimed attempt 1 between our read and our claim.
    real_filter = AlertDelivery.objects.filter

    def racing_filter(*args, **kwargs):
        if kwargs.get("attempts") == 0:
            AlertDelivery.objects.all().update(attempts=1)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(AlertDelivery.objects, "filter", racing_filter)

    assert slack_delivery_send(delivery_ids=[delivery_id]) == "claimed elsewhere"
    assert slack.requests == []


def test_enqueueing_twice_creates_and_posts_nothing_new(
    slack, acme, django_capture_on_commit_callbacks
):
    alert = make_alert(acme)
    enqueue([alert], django_capture_on_commit_callbacks)

    assert enqueue([alert], django_capture_on_commit_callbacks) == []

    assert AlertDelivery.objects.filter(alert=alert).count() == 3
    assert len(slack.requests) == 1


def test_the_post_waits_for_the_commit(slack, acme, django_capture_on_commit_callbacks):
    alert = make_alert(acme)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries_enqueue([alert.pk])

    assert slack.requests == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(slack.requests) == 1


# --- not configured, pooled, never raising ----------------------------------------------------


def test_without_a_webhook_slack_is_skipped_and_nothing_is_posted(
    slack_server, settings, acme, eager_celery, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    alert = make_alert(acme)

    assert enqueue([alert], django_capture_on_commit_callbacks) == []

    d = AlertDelivery.objects.get(alert=alert, channel="slack")
    assert (d.status, d.last_error) == (
        "skipped",
        "Slack is not configured (SLACK_WEBHOOK_URL is empty)",
    )
    assert slack_server.requests == []


def test_a_pooled_alert_is_not_emailed(slack, db, django_capture_on_commit_callbacks):
    pooled = AccountFactory(external_id="pool-1", tier=3, csm=None)
    alert = make_alert(pooled, owner=None)

    enqueue([alert], django_capture_on_commit_callbacks)

    assert statuses(alert) == {"inbox": ("sent", 1), "slack": ("sent", 1), "email": ("skipped", 0)}
    assert (
        AlertDelivery.objects.get(alert=alert, channel="email").last_error
        == "pooled alert: no CSM to email"
    )


def test_a_delivery_bug_never_raises_into_the_caller(
    slack, acme, monkeypatch, django_capture_on_commit_callbacks
):
    alert = make_alert(acme)
    monkeypatch.setattr(
        delivery, "_deliveries_create", lambda ids: (_ for _ in ()).throw(RuntimeError("boom"))
    )

    assert enqueue([alert], django_capture_on_commit_callbacks) == []
    assert slack.requests == []


def test_a_broken_message_fails_at_once_without_retrying(
    slack, acme, monkeypatch, django_capture_on_commit_callbacks
):
    alert = make_alert(acme)
    monkeypatch.setattr(
        delivery, "slack_message", lambda alerts: (_ for _ in ()).throw(KeyError("score"))
    )

    enqueue([alert], django_capture_on_commit_callbacks)

    d = AlertDelivery.objects.get(alert=alert, channel="slack")
    assert (d.status, d.attempts, d.last_error) == ("failed", 1, "KeyError: 'score'")
    assert slack.requests == []


# --- the daily email digest -------------------------------------------------------------------


@pytest.fixture
def two_books(alice, bob, maya, acme, django_capture_on_commit_callbacks, settings):
    """Alice has two new alerts, Bob one; Maya (a manager) owns none."""
    settings.SLACK_WEBHOOK_URL = ""
    settings.SITE_URL = "https://portal.example"
    globex = AccountFactory(external_id="globex", name="Globex", csm=bob)
    alerts = [
        make_alert(acme, key="a1", title="Acme moved green → red", created_ago=timedelta(hours=3)),
        make_alert(
            acme,
            kind=AlertKind.RENEWAL_RISK,
            key="a2",
            title="Acme renews in 60 days while red",
            detail="Renewal on …",
            created_ago=timedelta(hours=1),
        ),
        make_alert(globex, key="b1", title="Globex moved green → yellow"),
    ]
    enqueue(alerts, django_capture_on_commit_callbacks)
    return alerts


def test_digest_sends_one_email_per_csm_and_marks_them_sent(two_books, alice, bob):
    assert digests_send() == 2

    assert sorted(m.to[0] for m in mail.outbox) == ["alice@cs.example", "bob@cs.example"]
    to_alice = next(m for m in mail.outbox if m.to == ["alice@cs.example"])
    assert to_alice.subject == "CS Portal: 2 new alerts routed to you"
    assert to_alice.body.splitlines()[:6] == [
        "Hi Alice Archer,",
        "",
        "2 alerts routed to you since the last digest:",
        "",
        "* Acme Analytics: Acme renews in 60 days while red",
        "  Renewal on …",
    ]
    assert "https://portal.example/accounts/acme/health/" in to_alice.body
    assert "Globex" not in to_alice.body
    [(html, mimetype)] = to_alice.alternatives
    assert mimetype == "text/html"
    assert (
        '<a href="https://portal.example/accounts/acme/health/" style="color: #3b5bdb;">'
        "Acme Analytics</a></strong>: Acme moved green → red"
    ) in html
    emails = AlertDelivery.objects.filter(channel="email")
    assert sorted(emails.values_list("status", "attempts")) == [("sent", 1)] * 3
    assert all(d.sent_at is not None for d in emails)


def test_a_second_digest_run_sends_nothing(two_books):
    digests_send()
    mail.outbox.clear()

    assert digests_send() == 0
    assert mail.outbox == []


def test_a_csm_with_nothing_gets_no_email(alice, maya, db):
    assert digests_send() == 0
    assert mail.outbox == []


def test_an_alert_older_than_the_digest_window_is_not_mailed(
    alice, acme, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    old = make_alert(acme, key="old", created_ago=timedelta(days=3))
    enqueue([old], django_capture_on_commit_callbacks)

    assert digests_send() == 0

    d = AlertDelivery.objects.get(alert=old, channel="email")
    assert (d.status, d.last_error) == ("skipped", "no digest ran within a day of the alert")


def test_a_refused_email_is_kept_for_the_retry_and_others_still_go(two_books, settings):
    settings.MAILERS = {
        "default": {"BACKEND": "tests.playbooks.alert_helpers.FailingForBobBackend"}
    }

    with pytest.raises(DigestError, match="bob@cs.example: SMTPRecipientsRefused"):
        digests_send()

    assert [m.to for m in mail.outbox] == [["alice@cs.example"]]
    bobs = AlertDelivery.objects.get(alert=two_books[2], channel="email")
    assert (bobs.status, bobs.attempts) == ("retrying", 1)
    assert "mailbox full" in bobs.last_error

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    mail.outbox.clear()
    assert digests_send() == 1
    assert [m.to for m in mail.outbox] == [["bob@cs.example"]]
    bobs.refresh_from_db()
    assert (bobs.status, bobs.attempts, bobs.last_error) == ("sent", 2, "")


def test_beat_runs_the_digest_daily():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["daily-alert-digest"]
    assert entry["task"] == "playbooks.delivery.send_digests"
    assert tasks.send_digests.name == "playbooks.delivery.send_digests"
    assert deliver_alert.name == "playbooks.delivery.deliver_alert"


def test_an_expansion_hand_off_goes_to_the_aes_slack_with_its_numbers(
    slack, acme_renewing, django_capture_on_commit_callbacks
):
    """A notice another app sends (accounts.notices) is delivered like any alert, once."""
    from accounts.notices import Notice, notice_send
    from tests.factories import UserFactory

    ava = UserFactory(email="ava@cs.example", name="Ava Exec", role="ae")
    notice = Notice(
        account_id=acme_renewing.pk,
        recipient_id=ava.pk,
        kind="expansion_handoff",
        key="opportunity:7",
        as_of=YESTERDAY,
        title="Acme Analytics: commit upsize handed to you",
        detail="Alice Archer handed off a commit upsize opportunity worth $90,000 ARR.",
        data={"arr_potential": 90000.0, "path": "/accounts/acme/expansion/"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice)
        notice_send(notice)

    assert len(slack.requests) == 1
    blocks = slack.requests[0]["json"]["blocks"]
    assert blocks[1]["text"]["text"].startswith("*Acme Analytics: commit upsize handed to you*")
    assert [f["text"] for f in blocks[2]["fields"]][0] == "*ARR potential*\n$90,000"
    assert blocks[3]["elements"][0]["text"].startswith("Expansion hand-off · as of")
    assert blocks[4]["elements"][0]["url"] == "https://portal.example/accounts/acme/expansion/"
