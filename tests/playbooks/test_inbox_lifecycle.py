"""What a CSM sees of the alert lifecycle: the inbox's order and status filter, acknowledging and
snoozing inline (htmx fragment and plain POST), resolved alerts with when and why, the unread
badge; the alerts API's status; and Slack and the digest leaving out what resolved meanwhile.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from playbooks import tasks
from playbooks.delivery.services import deliveries_enqueue, digests_send
from playbooks.models import Alert, AlertDelivery, AlertKind
from tests.conftest import table_rows
from tests.playbooks.alert_helpers import make_alert

HX = {"headers": {"HX-Request": "true"}}
TODAY = date.today()
RESOLVED_AT = timezone.now() - timedelta(hours=2)


@pytest.fixture
def lifecycle_book(acme, alice):
    """Alice's alerts in every status (created oldest first, so 'newest first' is visible)."""

    def alert(key: str, title: str, hours: int, **status) -> Alert:
        made = make_alert(acme, key=key, title=title, created_ago=timedelta(hours=hours))
        if status:
            Alert.objects.filter(pk=made.pk).update(**status)
            made.refresh_from_db()
        return made

    return {
        "resolved": alert(
            "r",
            "Acme crossed 90% of its commit (93% used)",
            1,
            status="resolved",
            read_at=timezone.now(),
            resolved_at=RESOLVED_AT,
            resolved_as_of=TODAY - timedelta(days=1),
            resolved_reason="commit period ended",
        ),
        "snoozed": alert(
            "s",
            "Acme renews in 45 days while yellow",
            2,
            status="snoozed",
            read_at=timezone.now(),
            snoozed_until=TODAY + timedelta(days=3),
            snoozed_by=alice,
        ),
        "acked": alert(
            "a",
            "Acme: coasting override fired (health capped at red)",
            3,
            status="acknowledged",
            read_at=timezone.now(),
            acknowledged_by=alice,
            acknowledged_at=timezone.now(),
        ),
        "woke": alert(
            "w",
            "Acme dropped 18 points in 7 days (80 → 62)",
            4,
            status="snoozed",
            read_at=timezone.now(),
            snoozed_until=TODAY,
            snoozed_by=alice,
        ),
        "open": alert("o", "Acme moved yellow → red", 5),
    }


def titles(response) -> list[str]:
    return re.findall(r'<div class="alert-title">(.*?)</div>', response.content.decode())


def statuses(response) -> list[str]:
    return re.findall(r'data-testid="status">(\w+)</span>', response.content.decode())


def row(html: str, alert: Alert) -> str:
    return re.search(rf'<tr id="alert-{alert.pk}".*?</tr>', html, re.S).group(0)


# --- order and filter ---------------------------------------------------------------------------


def test_all_statuses_open_first_then_acknowledged_snoozed_resolved(alice_client, lifecycle_book):
    response = alice_client.get("/inbox/?status=all")

    assert titles(response) == [
        "Acme dropped 18 points in 7 days (80 → 62)",  # back from its snooze: open, newer
        "Acme moved yellow → red",
        "Acme: coasting override fired (health capped at red)",
        "Acme renews in 45 days while yellow",
        "Acme crossed 90% of its commit (93% used)",
    ]
    assert statuses(response) == ["Open", "Open", "Acknowledged", "Snoozed", "Resolved"]


def test_the_default_view_is_open_and_acknowledged(alice_client, lifecycle_book):
    response = alice_client.get("/inbox/")

    assert statuses(response) == ["Open", "Open", "Acknowledged"]
    html = response.content.decode()
    assert '<option value="">Open and acknowledged</option>' in html
    for status, count in {"open": 2, "acknowledged": 1, "snoozed": 1, "resolved": 1}.items():
        kpi = re.search(rf'data-testid="status-count-{status}">.*?</div>', html, re.S).group(0)
        assert f'<span class="kpi-value">{count}</span>' in kpi
        assert f'href="?owner=me&amp;status={status}"' in kpi


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", ["Acme dropped 18 points in 7 days (80 → 62)", "Acme moved yellow → red"]),
        ("acknowledged", ["Acme: coasting override fired (health capped at red)"]),
        ("snoozed", ["Acme renews in 45 days while yellow"]),
        ("resolved", ["Acme crossed 90% of its commit (93% used)"]),
    ],
)
def test_the_status_filter_keeps_its_state_in_the_url(
    alice_client, lifecycle_book, status, expected
):
    response = alice_client.get(f"/inbox/?status={status}")

    assert titles(response) == expected
    assert f'<option value="{status}" selected>' in response.content.decode()


def test_a_bad_status_is_400_with_the_message(alice_client, lifecycle_book):
    response = alice_client.get("/inbox/?status=closed")

    assert response.status_code == 400
    assert (
        "This filter could not be applied: status must be one of open, acknowledged, snoozed, "
        "resolved, all, not &#x27;closed&#x27;."
    ) in response.content.decode()


def test_a_resolved_alert_says_when_and_why_and_offers_no_action(alice_client, lifecycle_book):
    html = alice_client.get("/inbox/?status=resolved").content.decode()

    resolved = row(html, lifecycle_book["resolved"])
    day = TODAY - timedelta(days=1)
    assert (
        f'<p class="resolved-note" data-testid="resolved-note">✓ Resolved '
        f"{RESOLVED_AT:%b} {RESOLVED_AT.day}, {RESOLVED_AT.year} (data as of {day:%b} {day.day}): "
        "commit period ended</p>"
    ) in resolved
    assert ">2\xa0hours ago</span>" in resolved
    assert "Acknowledge" not in resolved and "Snooze" not in resolved


def test_snoozed_and_acknowledged_rows_say_by_whom(alice_client, lifecycle_book):
    html = alice_client.get("/inbox/?status=all").content.decode()

    until = TODAY + timedelta(days=3)
    snoozed = row(html, lifecycle_book["snoozed"])
    assert f"until {until:%a %b} {until.day} · by Alice Archer</div>" in snoozed
    assert 'data-testid="reopen"' in snoozed
    acked = row(html, lifecycle_book["acked"])
    assert "by Alice Archer · " in acked and 'data-testid="acknowledge"' not in acked
    woke = row(html, lifecycle_book["woke"])
    assert f"back from a snooze ({TODAY:%a %b} {TODAY.day})</div>" in woke
    assert 'class="unread-dot"' in woke


# --- acknowledge and snooze inline --------------------------------------------------------------


def test_acknowledge_with_htmx_swaps_the_row_and_the_counts(alice_client, lifecycle_book):
    alert = lifecycle_book["open"]

    response = alice_client.post(f"/inbox/{alert.pk}/acknowledge?owner=me", **HX)

    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    html = response.content.decode()
    assert html.lstrip().startswith(
        f'<tr id="alert-{alert.pk}" class="alert-row status-acknowledged" '
    )
    assert "<html" not in html
    assert 'data-testid="status">Acknowledged</span>' in html
    assert '<div class="row-note ok" role="status">Acknowledged.</div>' in html
    assert '<div id="status-kpis" class="status-kpis" hx-swap-oob="true">' in html
    kpi = re.search(r'data-testid="status-count-acknowledged">.*?</div>', html, re.S).group(0)
    assert '<span class="kpi-value">2</span>' in kpi
    # The woken snooze is still unread: the badge and the page's count say 1.
    assert 'data-testid="unread-count" hx-swap-oob="true">1</span>' in html
    assert 'title="1 unread alert">1</span>' in html
    alert.refresh_from_db()
    assert alert.status == "acknowledged"


def test_acknowledge_without_htmx_redirects_back_with_a_message(alice_client, lifecycle_book):
    alert = lifecycle_book["open"]

    response = alice_client.post(f"/inbox/{alert.pk}/acknowledge?owner=me&status=open")

    assert response.status_code == 302
    assert response["Location"] == "/inbox/?owner=me&status=open"
    page = alice_client.get(response["Location"]).content.decode()
    assert "Acknowledged. Acme moved yellow → red" in page
    assert Alert.objects.get(pk=alert.pk).status == "acknowledged"


@pytest.mark.parametrize(("days", "label"), [("1", 1), ("3", 3), ("7", 7)])
def test_snooze_for_1_3_or_7_days_with_htmx(alice_client, lifecycle_book, days, label):
    alert = lifecycle_book["open"]

    response = alice_client.post(f"/inbox/{alert.pk}/snooze?owner=me", {"days": days}, **HX)

    until = TODAY + timedelta(days=label)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="status">Snoozed</span>' in html
    assert f"until {until:%a %b} {until.day} · by Alice Archer" in html
    assert f'role="status">Snoozed until {until:%a %b} {until.day}.</div>' in html
    assert Alert.objects.get(pk=alert.pk).snoozed_until == until


def test_snooze_until_a_date_with_a_plain_post(alice_client, lifecycle_book):
    alert = lifecycle_book["open"]
    until = TODAY + timedelta(days=10)

    response = alice_client.post(f"/inbox/{alert.pk}/snooze", {"until": until.isoformat()})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until) == ("snoozed", until)


def test_a_past_snooze_date_is_422_with_the_message_in_the_row(alice_client, lifecycle_book):
    alert = lifecycle_book["open"]
    before = table_rows()

    response = alice_client.post(f"/inbox/{alert.pk}/snooze", {"until": TODAY.isoformat()}, **HX)

    assert response.status_code == 422
    html = response.content.decode()
    assert (
        f'<div class="row-note errors" role="alert">Snooze until a day after today '
        f"({TODAY.isoformat()}).</div>"
    ) in html
    assert '<details class="snooze" open>' in html
    assert table_rows() == before


def test_acknowledging_a_resolved_alert_is_409(alice_client, lifecycle_book):
    response = alice_client.post(f"/inbox/{lifecycle_book['resolved'].pk}/acknowledge", **HX)

    assert response.status_code == 409
    assert "This alert is already resolved (commit period ended)" in response.content.decode()


def test_another_csm_cannot_acknowledge_or_snooze_and_nothing_changes(bob_client, lifecycle_book):
    alert = lifecycle_book["open"]
    before = table_rows()

    assert bob_client.post(f"/inbox/{alert.pk}/acknowledge", **HX).status_code == 403
    assert bob_client.post(f"/inbox/{alert.pk}/snooze", {"days": "3"}, **HX).status_code == 403
    assert bob_client.post(f"/inbox/{alert.pk}/snooze", {"until": "bad"}).status_code == 403
    assert bob_client.post(f"/inbox/{alert.pk}/reopen").status_code == 403
    assert table_rows() == before


def test_reopen_inline(alice_client, lifecycle_book):
    alert = lifecycle_book["acked"]

    response = alice_client.post(f"/inbox/{alert.pk}/reopen", **HX)

    assert 'data-testid="status">Open</span>' in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == "open"


# --- the nav badge --------------------------------------------------------------------------------


def test_the_badge_counts_unread_alerts_that_are_not_resolved(alice_client, acme):
    make_alert(acme, key="unread")
    resolved = make_alert(acme, key="gone")
    Alert.objects.filter(pk=resolved.pk).update(status="resolved")

    assert alice_client.get("/inbox/?status=all").context["inbox_unread"] == 1


def test_marking_a_woken_snooze_read_makes_it_plainly_open(alice_client, lifecycle_book):
    woke = lifecycle_book["woke"]
    assert alice_client.get("/inbox/").context["inbox_unread"] == 2  # it and the open one

    response = alice_client.post(f"/inbox/{woke.pk}/read", **HX)

    assert 'title="1 unread alert">1</span>' in response.content.decode()
    woke.refresh_from_db()
    assert woke.status == "open" and woke.read_at is not None


# --- the API --------------------------------------------------------------------------------------


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_api_items_carry_status_and_resolved_at(client, alice_token, lifecycle_book):
    body = client.get("/api/v1/alerts", **auth(alice_token)).json()

    by_key = {item["key"]: item for item in body}
    assert {k: item["status"] for k, item in by_key.items()} == {
        "r": "resolved",
        "s": "snoozed",
        "a": "acknowledged",
        "w": "open",  # a snooze that has run out reads as open
        "o": "open",
    }
    assert by_key["r"]["resolved_at"].startswith(RESOLVED_AT.isoformat()[:19])
    assert by_key["r"]["resolved_reason"] == "commit period ended"
    assert by_key["o"]["resolved_at"] is None
    assert set(by_key["o"]) == {
        "account",
        "kind",
        "created_at",
        "detail",
        "title",
        "key",
        "as_of",
        "status",
        "resolved_at",
        "resolved_reason",
        "deliveries",
        "story",  # added with routing: the contract is extended, never broken
        "direction",
    }


@pytest.mark.parametrize(
    ("status", "keys"),
    [("open", ["o", "w"]), ("snoozed", ["s"]), ("acknowledged", ["a"]), ("resolved", ["r"])],
)
def test_api_status_filter(client, alice_token, lifecycle_book, status, keys):
    response = client.get(f"/api/v1/alerts?status={status}", **auth(alice_token))

    assert response.status_code == 200
    assert sorted(item["key"] for item in response.json()) == keys


def test_api_bad_status_is_400(client, alice_token, lifecycle_book):
    response = client.get("/api/v1/alerts?status=closed", **auth(alice_token))

    assert response.status_code == 400
    assert response.json() == {
        "detail": "status must be one of open, acknowledged, snoozed, resolved, not 'closed'"
    }


# --- deliveries wait and drop what resolved -------------------------------------------------------


def resolve(alert: Alert, reason: str = "band back to green (score 74)") -> None:
    Alert.objects.filter(pk=alert.pk).update(
        status="resolved", resolved_at=timezone.now(), resolved_reason=reason
    )


def test_slack_waits_the_grace_period_and_drops_what_resolved_meanwhile(
    slack, acme, settings, monkeypatch, django_capture_on_commit_callbacks, alice_client
):
    settings.ALERT_DELIVERY_GRACE_SECONDS = 90
    countdowns = []
    send = tasks.deliver_alert.apply_async

    def recording(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return send(*args, **kwargs)

    monkeypatch.setattr(tasks.deliver_alert, "apply_async", recording)
    band = make_alert(acme, key="band", title="Acme Analytics moved green → red")
    override = make_alert(
        acme,
        kind=AlertKind.OVERRIDE,
        key="sharp",
        title="Acme Analytics: sharp_drop override fired (health capped at red)",
        override="sharp_drop",
        cap_band="red",
    )
    with django_capture_on_commit_callbacks() as queued:
        deliveries_enqueue([band.pk, override.pk])
    assert slack.requests == []  # nothing leaves before the commit and the grace period

    resolve(band)  # the next file of the load clears the band change within the grace period
    for callback in queued:
        callback()

    assert countdowns == [90]
    [message] = slack.bodies
    assert message["text"] == (
        "Acme Analytics: Acme Analytics: sharp_drop override fired (health capped at red)"
    )
    dropped = AlertDelivery.objects.get(alert=band, channel="slack")
    assert (dropped.status, dropped.last_error, dropped.attempts) == (
        "dropped",
        "Condition cleared before sending",
        0,
    )
    assert AlertDelivery.objects.get(alert=override, channel="slack").status == "sent"
    html = alice_client.get("/inbox/?status=all").content.decode()
    assert ">Slack: not sent, condition cleared</span>" in row(html, band)


def test_a_message_whose_alerts_all_resolved_is_not_posted(
    slack, acme, django_capture_on_commit_callbacks
):
    alert = make_alert(acme)
    with django_capture_on_commit_callbacks() as queued:
        deliveries_enqueue([alert.pk])
    resolve(alert)
    for callback in queued:
        callback()

    assert slack.requests == []
    assert AlertDelivery.objects.get(alert=alert, channel="slack").status == "dropped"


def test_the_digest_leaves_resolved_alerts_out(
    alice, acme, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = ""
    kept = make_alert(acme, key="kept", title="Acme renews in 45 days while yellow")
    gone = make_alert(acme, key="gone", title="Acme moved green → red")
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_enqueue([kept.pk, gone.pk])
    resolve(gone)

    assert digests_send() == 1

    [email] = mail.outbox
    assert email.subject == "CS Portal: 1 new alert routed to you"
    assert "* Acme Analytics: Acme renews in 45 days while yellow" in email.body
    assert "Acme moved green → red" not in email.body
    assert AlertDelivery.objects.get(alert=gone, channel="email").status == "dropped"


def test_an_inbox_with_only_resolved_alerts_says_nothing_needs_attention(alice_client, acme):
    gone = make_alert(acme, key="gone")
    Alert.objects.filter(pk=gone.pk).update(
        status="resolved", resolved_reason="commit period ended"
    )

    html = alice_client.get("/inbox/").content.decode()

    assert "<h2>Nothing needs attention</h2>" in html
    assert '<a href="?owner=me&amp;status=resolved">Resolved (1)</a>' in html
    assert "No alerts yet" not in html
