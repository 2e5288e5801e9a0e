"""Work the inbox in Chromium: a CSM sees open alerts before acknowledged ones, acknowledges and
snoozes inline (htmx: the row and the status tiles change, the page does not reload), finds the
alert the system resolved under the "Resolved" filter with its reason, keeps that filter in the
URL, and never sees or acts on another CSM's alert."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import Role, User
from accounts.selectors import today
from health.services import last_complete_day
from playbooks.alerts.services import alert_acknowledge, alerts_resolve
from playbooks.models import Alert, AlertKind
from tests.factories import AccountFactory
from tests.playbooks.alert_helpers import make_alert, snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]

PASSWORD = "browser-pass-3"

NORTHWIND_COASTING = "Northwind Payments: coasting override fired (health capped at red)"
ACME_DROP = "Acme Analytics dropped 18 points in 7 days (80 → 62)"
ACME_RENEWAL = "Acme Analytics renews in 45 days while yellow"
HARBOR_RED = "Harbor Ledger moved green → red"


def _inbox() -> dict:
    """Alice's four alerts (one already acknowledged, one the system resolves) and Bob's one."""
    alice = User.objects.create_user("alice@team.test", PASSWORD, name="Alice Chen", role=Role.CSM)
    bob = User.objects.create_user("bob@team.test", PASSWORD, name="Bob Okafor", role=Role.CSM)
    northwind = AccountFactory(
        external_id="northwind", name="Northwind Payments", tier=1, csm=alice
    )
    acme = AccountFactory(external_id="acme", name="Acme Analytics", tier=2, csm=alice)
    harbor = AccountFactory(external_id="harbor", name="Harbor Ledger", tier=2, csm=alice)
    quartz = AccountFactory(external_id="quartz", name="Quartz Wallet", tier=1, csm=bob)
    day = last_complete_day()
    renewal = day + timedelta(days=45)

    coasting = make_alert(
        northwind,
        kind=AlertKind.OVERRIDE,
        key=f"{day}:coasting",
        as_of=day,
        created_ago=timedelta(hours=1),
        title=NORTHWIND_COASTING,
        detail="relationship 85, commit pace 40%",
        score=35,
        band="red",
        override="coasting",
        cap_band="red",
    )
    drop = make_alert(
        acme,
        kind=AlertKind.SCORE_DROP,
        key=f"{day}",
        as_of=day,
        created_ago=timedelta(hours=2),
        title=ACME_DROP,
        detail="Health fell from 80 to 62 in 7 days.",
        score=62,
        band="yellow",
        from_score=80,
        points=18,
    )
    # The newest of Alice's alerts, but acknowledged: it still lists after the open ones.
    renewing = make_alert(
        acme,
        kind=AlertKind.RENEWAL_RISK,
        key=f"{renewal}",
        as_of=day,
        created_ago=timedelta(minutes=20),
        title=ACME_RENEWAL,
        detail=f"Renewal on {renewal} and health is 62 (yellow).",
        score=62,
        band="yellow",
        renewal=renewal.isoformat(),
    )
    assert alert_acknowledge(alert=renewing, user=alice)
    # Raised the day before; the day's snapshot is back to green, so the recompute's resolve
    # pass clears it (Harbor has a snapshot that day, the other accounts none: left alone).
    harbor_red = make_alert(
        harbor,
        as_of=day - timedelta(days=1),
        created_ago=timedelta(hours=3),
        title=HARBOR_RED,
        detail="Health went from 75 (green) to 32 (red).",
    )
    snapshot(harbor, day, 74, "green")
    assert alerts_resolve(as_of=day) == 1
    harbor_red.refresh_from_db()
    assert (harbor_red.status, harbor_red.resolved_reason) == (
        "resolved",
        "band back to green (score 74)",
    )
    bobs = make_alert(
        quartz,
        created_ago=timedelta(minutes=10),
        title="Quartz Wallet moved green → red",
    )
    return {
        "alice": alice,
        "bob": bob,
        "coasting": coasting,
        "drop": drop,
        "renewing": renewing,
        "harbor_red": harbor_red,
        "bobs": bobs,
    }


def _log_in(page, live_server, then: str) -> None:
    page.goto(f"{live_server.url}{then}")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", "alice@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login/"))
    page.goto(f"{live_server.url}{then}")


def _tiles(page, **expected: int) -> None:
    for status, count in expected.items():
        expect(page.locator(f"[data-testid=status-count-{status}] .kpi-value")).to_have_text(
            str(count)
        )


def _day(d) -> str:
    """A date as the inbox writes it in a row ("Tue Dec 1")."""
    return f"{d:%a %b} {d.day}"


def test_csm_acknowledges_snoozes_and_finds_what_the_system_resolved(live_server, page, screenshot):
    book = _inbox()
    _log_in(page, live_server, "/inbox/")

    # The default view: open first (newest first), then acknowledged, though that one is newer.
    expect(page.locator("h1")).to_have_text("Inbox")
    rows = page.locator("#inbox-table [data-testid=alert]")
    titles = rows.locator(".alert-title")
    statuses = rows.locator("[data-testid=status]")
    expect(titles).to_have_text([NORTHWIND_COASTING, ACME_DROP, ACME_RENEWAL])
    expect(statuses).to_have_text(["Open", "Open", "Acknowledged"])
    expect(page.locator("#f-status")).to_have_value("")
    expect(page.locator("[data-testid=count]")).to_have_text("3")
    _tiles(page, open=2, acknowledged=1, snoozed=0, resolved=1)
    expect(page.locator("[data-testid=unread-count]")).to_have_text("2")
    expect(page.locator("[data-testid=inbox-unread]")).to_have_text("2")
    renewing = page.locator(f"#alert-{book['renewing'].pk}")
    expect(renewing.locator("[data-testid=status-note]")).to_contain_text("by Alice Chen · ")
    expect(renewing.locator("[data-testid=acknowledge]")).to_have_count(0)
    # Neither the resolved alert nor Bob's is in the default view.
    expect(page.locator("#results")).not_to_contain_text(HARBOR_RED)
    expect(page.locator("#results")).not_to_contain_text("Quartz Wallet")
    screenshot("inbox-default")

    # Acknowledge the coasting alert inline: its row and the tiles change, the page stays.
    page.evaluate("window.__marker = 'same-page'")
    coasting = page.locator(f"#alert-{book['coasting'].pk}")
    coasting.locator("[data-testid=acknowledge]").click()
    expect(coasting.locator("[data-testid=status]")).to_have_text("Acknowledged")
    expect(coasting.locator("[role=status]")).to_have_text("Acknowledged.")
    expect(coasting.locator("[data-testid=status-note]")).to_contain_text("by Alice Chen · ")
    expect(coasting.locator("[data-testid=acknowledge]")).to_have_count(0)
    expect(coasting.locator("[data-testid=reopen]")).to_have_text("Reopen")
    _tiles(page, open=1, acknowledged=2, snoozed=0, resolved=1)
    expect(page.locator("[data-testid=unread-count]")).to_have_text("1")
    expect(page.locator("[data-testid=inbox-unread]")).to_have_text("1")
    # The row was swapped where it stood; nothing re-sorted.
    expect(statuses).to_have_text(["Acknowledged", "Open", "Acknowledged"])
    assert page.evaluate("window.__marker") == "same-page"
    book["coasting"].refresh_from_db()
    assert (book["coasting"].status, book["coasting"].acknowledged_by) == (
        "acknowledged",
        book["alice"],
    )

    # Snooze the score drop for a day through the Snooze menu.
    until = today() + timedelta(days=1)
    drop = page.locator(f"#alert-{book['drop'].pk}")
    drop.locator("[data-testid=snooze-menu]").click()
    drop.get_by_role("button", name="1 day", exact=True).click()
    expect(drop.locator("[data-testid=status]")).to_have_text("Snoozed")
    expect(drop.locator("[data-testid=status-note]")).to_have_text(
        f"until {_day(until)} · by Alice Chen"
    )
    expect(drop.locator("[role=status]")).to_have_text(f"Snoozed until {_day(until)}.")
    _tiles(page, open=0, acknowledged=2, snoozed=1, resolved=1)
    expect(page.locator("[data-testid=unread-count]")).to_have_text("0")
    expect(page.locator("[data-testid=inbox-unread]")).to_be_hidden()
    assert page.evaluate("window.__marker") == "same-page"
    book["drop"].refresh_from_db()
    assert (book["drop"].status, book["drop"].snoozed_until) == ("snoozed", until)
    screenshot("inbox-after-acknowledge-and-snooze")

    # Opened again, the default view holds the two acknowledged alerts, newest first; the
    # snoozed one has left it.
    expect(page).to_have_url(re.compile(r"/inbox/(\?|$)"))  # still the inbox, not an action
    page.reload()
    expect(titles).to_have_text([ACME_RENEWAL, NORTHWIND_COASTING])
    expect(statuses).to_have_text(["Acknowledged", "Acknowledged"])
    expect(page.locator("#results")).not_to_contain_text(ACME_DROP)
    _tiles(page, open=0, acknowledged=2, snoozed=1, resolved=1)

    # Resolved: the alert the system cleared, with when and why, and nothing left to do on it.
    page.evaluate("window.__marker = 'same-page'")
    page.select_option("#f-status", "resolved")
    expect(page).to_have_url(re.compile(r"[?&]status=resolved(&|$)"))
    expect(titles).to_have_text([HARBOR_RED])
    expect(statuses).to_have_text(["Resolved"])
    resolved = book["harbor_red"]
    harbor = page.locator(f"#alert-{resolved.pk}")
    expect(harbor.locator("[data-testid=resolved-note]")).to_have_text(
        f"✓ Resolved {resolved.resolved_at:%b} {resolved.resolved_at.day}, "
        f"{resolved.resolved_at.year} (data as of {resolved.resolved_as_of:%b} "
        f"{resolved.resolved_as_of.day}): band back to green (score 74)"
    )
    expect(harbor.locator("[data-testid=acknowledge]")).to_have_count(0)
    expect(harbor.locator("[data-testid=snooze-menu]")).to_have_count(0)
    expect(page.locator("[data-testid=status-count-resolved] a")).to_have_attribute(
        "aria-current", "true"
    )
    assert page.evaluate("window.__marker") == "same-page"
    expect(page.locator("#results")).to_have_css("opacity", "1")  # faded while it loads
    screenshot("inbox-resolved")

    # The URL keeps the filter: a reload shows the same view.
    page.reload()
    expect(page.locator("#f-status")).to_have_value("resolved")
    expect(titles).to_have_text([HARBOR_RED])

    # Every status at once: Alice's four alerts, Bob's nowhere.
    page.select_option("#f-status", "all")
    expect(statuses).to_have_text(["Acknowledged", "Acknowledged", "Snoozed", "Resolved"])
    expect(titles).to_have_text([ACME_RENEWAL, NORTHWIND_COASTING, ACME_DROP, HARBOR_RED])
    expect(page.locator("#results")).not_to_contain_text("Quartz Wallet")


def test_acting_on_a_row_leaves_the_address_bar_on_the_inbox(live_server, page):
    book = _inbox()
    _log_in(page, live_server, "/inbox/")

    coasting = page.locator(f"#alert-{book['coasting'].pk}")
    coasting.locator("[data-testid=acknowledge]").click()
    expect(coasting.locator("[data-testid=status]")).to_have_text("Acknowledged")

    expect(page).to_have_url(re.compile(r"/inbox/(\?|$)"), timeout=2000)


def test_a_csm_cannot_see_or_act_on_another_csms_alert(live_server, page):
    book = _inbox()

    # Alice's inbox never lists Bob's alert, so there is no button of his to press…
    _log_in(page, live_server, "/inbox/?status=all")
    expect(page.locator("#inbox-table [data-testid=alert]")).to_have_count(4)
    expect(page.locator(f"#alert-{book['bobs'].pk}")).to_have_count(0)
    expect(page.locator("#f-owner option")).to_have_text(["Mine", "Pooled queue"])

    # …asking for Bob's alerts by id is refused…
    response = page.goto(f"{live_server.url}/inbox/?owner={book['bob'].pk}")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator(".card.empty")).to_contain_text(
        "You see your own alerts and the pooled queue; a CS manager sees everyone's."
    )

    # …and so is posting the acknowledgement by hand, with a valid CSRF token: nothing changes.
    page.goto(f"{live_server.url}/inbox/")
    status = page.evaluate(
        """async (pk) => {
            const headers = JSON.parse(document.body.getAttribute("hx-headers"));
            const answer = await fetch(`/inbox/${pk}/acknowledge`, {
                method: "POST", headers: {...headers, "HX-Request": "true"},
            });
            return answer.status;
        }""",
        book["bobs"].pk,
    )
    assert status == 403
    bobs = Alert.objects.get(pk=book["bobs"].pk)
    assert (bobs.status, bobs.acknowledged_by, bobs.read_at) == ("open", None, None)
