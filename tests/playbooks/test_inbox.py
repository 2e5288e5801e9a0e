"""The inbox page: who sees which alerts, filters, marking read (htmx and plain), the unread
badge, and the delivery status of each channel."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from playbooks.context_processors import inbox as inbox_context
from playbooks.models import Alert, AlertDelivery, AlertKind
from tests.conftest import table_rows
from tests.factories import AccountFactory
from tests.playbooks.alert_helpers import make_alert

HX = {"headers": {"HX-Request": "true"}}


@pytest.fixture
def book(acme, alice, bob):
    """Alice: two unread alerts on Acme and one read; Bob: one on Globex; one pooled alert."""
    globex = AccountFactory(external_id="globex", name="Globex", csm=bob)
    pool = AccountFactory(external_id="pool-1", name="Pooled Co", tier=3, csm=None)
    alerts = {
        "a_old": make_alert(
            acme, key="a_old", title="Acme moved green → yellow", created_ago=timedelta(days=2)
        ),
        "a_new": make_alert(
            acme,
            kind=AlertKind.RENEWAL_RISK,
            key="a_new",
            title="Acme renews in 60 days while yellow",
            created_ago=timedelta(hours=1),
        ),
        "a_read": make_alert(
            acme,
            kind=AlertKind.SCORE_DROP,
            key="a_read",
            title="Acme dropped 18 points in 7 days",
            created_ago=timedelta(days=3),
        ),
        "b": make_alert(
            globex, key="b", title="Globex moved green → red", created_ago=timedelta(hours=5)
        ),
        "pool": make_alert(
            pool,
            kind=AlertKind.USAGE_SPIKE,
            key="pool",
            owner=None,
            title="Pooled Co: usage 6.0× its normal level",
            created_ago=timedelta(hours=3),
        ),
    }
    Alert.objects.filter(pk=alerts["a_read"].pk).update(read_at=timezone.now())
    return alerts


def titles(response) -> list[str]:
    return re.findall(r'<div class="alert-title">(.*?)</div>', response.content.decode())


# --- who sees what ----------------------------------------------------------------------------


def test_a_csm_sees_their_own_alerts_newest_first(alice_client, book):
    response = alice_client.get("/inbox/")

    assert response.status_code == 200
    assert titles(response) == [
        "Acme renews in 60 days while yellow",
        "Acme moved green → yellow",
        "Acme dropped 18 points in 7 days",
    ]
    html = response.content.decode()
    assert 'data-testid="count">3<' in html
    assert 'data-testid="unread-count">2<' in html
    assert '<a class="acct" href="/accounts/acme/health/">Acme Analytics</a>' in html
    assert "Health went from 75 (green) to 32 (red)." in html
    assert '<th scope="col">Owner</th>' not in html
    assert ">Everyone</option>" not in html  # no "Everyone" choice for a CSM


def test_a_manager_sees_everyones_and_filters_by_owner(maya_client, book, bob):
    everyone = maya_client.get("/inbox/")
    assert len(titles(everyone)) == 5
    assert '<th scope="col">Owner</th>' in everyone.content.decode()

    assert titles(maya_client.get(f"/inbox/?owner={bob.pk}")) == ["Globex moved green → red"]
    assert titles(maya_client.get("/inbox/?owner=pooled")) == [
        "Pooled Co: usage 6.0× its normal level"
    ]


def test_a_csm_can_switch_to_the_pooled_queue(alice_client, book):
    assert titles(alice_client.get("/inbox/?owner=pooled")) == [
        "Pooled Co: usage 6.0× its normal level"
    ]


def test_a_csm_cannot_look_at_another_csms_inbox(alice_client, book, bob):
    response = alice_client.get(f"/inbox/?owner={bob.pk}")

    assert response.status_code == 403
    assert "Globex" not in response.content.decode()
    assert alice_client.get("/inbox/?owner=all").status_code == 403


def test_filters_by_kind_and_unread(alice_client, book):
    assert titles(alice_client.get("/inbox/?kind=renewal_risk")) == [
        "Acme renews in 60 days while yellow"
    ]
    assert titles(alice_client.get("/inbox/?unread=1")) == [
        "Acme renews in 60 days while yellow",
        "Acme moved green → yellow",
    ]


def test_htmx_filtering_returns_the_results_fragment(alice_client, book):
    response = alice_client.get("/inbox/?kind=score_drop", **HX)

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html
    assert titles(response) == ["Acme dropped 18 points in 7 days"]
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "kind=nope",
            "kind must be one of band_change, override, score_drop, renewal_risk, "
            "onboarding_overdue, commit_threshold, usage_spike, expansion_handoff, "
            "not &#x27;nope&#x27;",
        ),
        ("owner=someone", "owner must be me, pooled, all or a user id, not &#x27;someone&#x27;"),
        ("unread=maybe", "unread must be 1 or 0, not &#x27;maybe&#x27;"),
        ("page=0", "page must be a positive whole number, not &#x27;0&#x27;"),
        ("page=%C2%B2", "page must be a positive whole number, not &#x27;²&#x27;"),
    ],
)
def test_bad_filters_are_400_with_the_message_and_the_default_view(
    alice_client, book, query, message
):
    response = alice_client.get(f"/inbox/?{query}")

    assert response.status_code == 400
    html = response.content.decode()
    assert f"This filter could not be applied: {message}." in html
    assert len(titles(response)) == 3


def test_empty_inbox_says_what_to_expect(alice_client, alice):
    html = alice_client.get("/inbox/").content.decode()

    assert "No alerts yet" in html
    assert "An alert appears here minutes after an account crosses a threshold" in html


def test_filtered_to_nothing_offers_to_clear(alice_client, book):
    html = alice_client.get("/inbox/?kind=usage_spike").content.decode()

    assert "No alerts match" in html
    assert 'href="/inbox/?owner=me">Show every alert</a>' in html


def test_the_inbox_needs_a_login(client, book):
    response = client.get("/inbox/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- delivery status --------------------------------------------------------------------------


def test_each_channel_shows_its_status_and_the_last_error(alice_client, book):
    alert = book["a_new"]
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(
                alert=alert, channel="inbox", status="sent", attempts=1, sent_at=timezone.now()
            ),
            AlertDelivery(
                alert=alert,
                channel="slack",
                status="retrying",
                attempts=2,
                last_error="timed out after 5 s",
            ),
            AlertDelivery(alert=alert, channel="email", status="pending"),
            AlertDelivery(
                alert=book["a_old"],
                channel="slack",
                status="skipped",
                last_error="Slack is not configured (SLACK_WEBHOOK_URL is empty)",
            ),
        ]
    )

    html = alice_client.get("/inbox/").content.decode()
    row = re.search(rf'<tr id="alert-{alert.pk}".*?</tr>', html, re.S).group(0)

    assert re.findall(r'data-channel="(\w+)" data-status="(\w+)"', row) == [
        ("inbox", "sent"),
        ("slack", "retrying"),
        ("email", "pending"),
    ]
    assert ">Inbox: sent</span>" in row
    assert ">Slack: retrying</span>" in row
    assert ">Email: pending</span>" in row
    assert "timed out after 5 s (2 attempts)" in row
    old = re.search(rf'<tr id="alert-{book["a_old"].pk}".*?</tr>', html, re.S).group(0)
    assert ">Slack: skipped</span>" in old
    assert 'title="Slack is not configured (SLACK_WEBHOOK_URL is empty)"' in old


# --- marking read -----------------------------------------------------------------------------


def test_mark_one_read_with_htmx_swaps_the_row_and_the_badge(alice_client, book):
    alert = book["a_new"]

    response = alice_client.post(f"/inbox/{alert.pk}/read?owner=me&kind=renewal_risk", **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="alert-{alert.pk}" class="alert-row status-open"')
    assert "Mark read" not in html
    # The page's unread count follows (for the filters the page shows) …
    assert (
        '<span id="unread-in-view" class="kpi-value" data-testid="unread-count" '
        'hx-swap-oob="true">0</span>'
    ) in html
    # … and so does the nav badge.
    assert (
        '<span id="inbox-badge" class="navbadge" data-testid="inbox-unread" '
        'hx-swap-oob="true" title="1 unread alert">1</span>'
    ) in html
    alert.refresh_from_db()
    assert alert.read_at is not None


def test_the_mark_read_button_carries_the_pages_filters(alice_client, book):
    html = alice_client.get("/inbox/?kind=band_change").content.decode()

    pk = book["a_old"].pk
    assert f'hx-post="/inbox/{pk}/read?owner=me&amp;kind=band_change"' in html


def test_mark_read_without_htmx_redirects_to_the_inbox(alice_client, book):
    response = alice_client.post(f"/inbox/{book['a_old'].pk}/read")

    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    assert Alert.objects.get(pk=book["a_old"].pk).read_at is not None


def test_marking_read_twice_is_harmless(alice_client, book):
    alert = book["a_read"]
    read_at = Alert.objects.get(pk=alert.pk).read_at

    assert alice_client.post(f"/inbox/{alert.pk}/read", **HX).status_code == 200
    assert Alert.objects.get(pk=alert.pk).read_at == read_at


def test_another_csm_cannot_mark_someone_elses_alert_read(bob_client, book):
    before = table_rows()

    response = bob_client.post(f"/inbox/{book['a_new'].pk}/read", **HX)

    assert response.status_code == 403
    assert "belongs to another CSM" in response.content.decode()
    assert table_rows() == before
    assert bob_client.post(f"/inbox/{book['a_new'].pk}/read").status_code == 403
    assert table_rows() == before


def test_a_csm_can_mark_a_pooled_alert_read_and_a_manager_any(alice_client, maya_client, book):
    assert alice_client.post(f"/inbox/{book['pool'].pk}/read", **HX).status_code == 200
    assert maya_client.post(f"/inbox/{book['b'].pk}/read", **HX).status_code == 200
    assert Alert.objects.filter(read_at__isnull=True).count() == 2


def test_a_product_user_cannot_mark_alerts_read(pat_client, book):
    before = table_rows()

    assert pat_client.post(f"/inbox/{book['pool'].pk}/read").status_code == 403
    assert pat_client.post("/inbox/read-all", {"owner": "pooled"}).status_code == 403
    assert table_rows() == before


def test_mark_read_of_a_missing_alert_is_404_and_get_is_405(alice_client, book):
    assert alice_client.post("/inbox/999999/read").status_code == 404
    assert alice_client.get(f"/inbox/{book['a_new'].pk}/read").status_code == 405


def test_mark_all_read_marks_only_the_users_alerts_in_view(alice_client, book):
    response = alice_client.post("/inbox/read-all", {"owner": "me"}, **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Marked 2 alerts read." in html
    assert 'data-testid="unread-count">0<' in html
    assert 'hx-swap-oob="true" hidden title="0 unread alerts">0</span>' in html
    unread = set(Alert.objects.filter(read_at__isnull=True).values_list("key", flat=True))
    assert unread == {"b", "pool"}


def test_mark_all_read_respects_the_kind_filter(alice_client, book):
    response = alice_client.post("/inbox/read-all", {"owner": "me", "kind": "renewal_risk"})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/?owner=me&kind=renewal_risk"
    unread = set(Alert.objects.filter(read_at__isnull=True).values_list("key", flat=True))
    assert unread == {"a_old", "b", "pool"}


def test_a_csm_cannot_mark_all_of_another_csms_alerts(alice_client, book, bob):
    before = table_rows()

    assert alice_client.post("/inbox/read-all", {"owner": str(bob.pk)}).status_code == 403
    assert table_rows() == before


# --- the unread badge -------------------------------------------------------------------------


def test_unread_count_is_the_users_unread_alerts(alice, bob, maya, book, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = alice
    context = inbox_context(request)
    with django_assert_num_queries(1):
        assert context["inbox_unread"] == 2
        assert str(context["inbox_unread"]) == "2"
    request.user = bob
    assert inbox_context(request)["inbox_unread"] == 1
    request.user = maya
    assert inbox_context(request)["inbox_unread"] == 0


def test_the_badge_template_renders_the_lazy_count(alice, book):
    request = RequestFactory().get("/")
    request.user = alice

    html = render_to_string("playbooks/alerts_badge.html", inbox_context(request))

    assert html.strip() == (
        '<span id="inbox-badge" class="navbadge" data-testid="inbox-unread" '
        'title="2 unread alerts">2</span>'
    )
    assert int(inbox_context(request)["inbox_unread"]) == 2


def test_unread_count_is_zero_for_anonymous_visitors(db):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert inbox_context(request) == {"inbox_unread": 0}


def test_unread_count_is_in_every_pages_context(alice_client, book):
    response = alice_client.get("/inbox/")

    assert response.context["inbox_unread"] == 2
