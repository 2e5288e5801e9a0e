"""The account page (/accounts/<external_id>/) and logging a touchpoint from it."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Touchpoint
from tests.conftest import table_rows
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    TierChangeFactory,
    TouchpointFactory,
)


def text(response) -> str:
    return html.unescape(response.text)


def md(day) -> str:
    """A date as the templates print it ("M j, Y")."""
    return f"{day:%b} {day.day}, {day.year}"


def timeline(response) -> list[tuple[str, str]]:
    """(kind, title) of each timeline entry, top to bottom."""
    return [
        (kind, html.unescape(title))
        for kind, title in re.findall(
            r'<li class="tl tl-(\w+)">.*?<span class="tl-kind">(.*?)</span>',
            response.text,
            re.DOTALL,
        )
    ]


def people(response) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(role heading, [(name, flag text), ...]), ...] from the People card."""
    card = response.text.split("<h2>People</h2>", 1)[1].split("</section>", 1)[0]
    groups = []
    for role, items in re.findall(
        r"<h3>(.*?)</h3>\s*<ul class=\"people\">(.*?)</ul>", card, re.DOTALL
    ):
        found = re.findall(
            r'<span class="pname">(.*?)</span>\s*<span class="flag[^"]*">(.*?)'
            r"</span>",
            items,
            re.DOTALL,
        )
        groups.append((role, [(html.unescape(n), html.unescape(f)) for n, f in found]))
    return groups


@pytest.fixture
def acme_page(acme, maya, today):
    """acme with two active contracts, an ended and an upcoming one, people and history."""
    ContractFactory(
        account=acme,
        start=today - timedelta(days=300),
        end=today + timedelta(days=64),
        arr=Decimal("100000"),
        plan="developer",
        commit_units=Decimal("2000000"),
    )
    ContractFactory(
        account=acme,
        start=today - timedelta(days=20),
        end=today + timedelta(days=45),
        arr=Decimal("25000"),
        plan="datastreams",
    )
    ContractFactory(
        account=acme,
        start=today - timedelta(days=665),
        end=today - timedelta(days=301),
        arr=Decimal("60000"),
        plan="explorer",
    )
    ContractFactory(
        account=acme,
        start=today + timedelta(days=65),
        end=today + timedelta(days=429),
        arr=Decimal("150000"),
        plan="datastreams",
    )
    ContactFactory(
        account=acme, name="Erin Exec", role="exec_sponsor", last_engaged=today - timedelta(days=61)
    )
    ContactFactory(
        account=acme, name="Cam Champion", role="champion", last_engaged=today - timedelta(days=60)
    )
    ContactFactory(
        account=acme,
        name="Lee Leaver",
        role="champion",
        last_engaged=today - timedelta(days=10),
        left=today - timedelta(days=7),
    )
    ContactFactory(account=acme, name="Dev Engineer", role="data_engineer", last_engaged=None)
    ContactFactory(
        account=acme,
        name="Fay Future",
        role="analyst",
        last_engaged=today - timedelta(days=1),
        left=today + timedelta(days=14),
    )
    TouchpointFactory(account=acme, date=today - timedelta(days=40), kind="qbr", note="Q3 review")
    TouchpointFactory(
        account=acme, date=today - timedelta(days=2), kind="nps", score=9, note="Loves the API"
    )
    TierChangeFactory(account=acme, from_tier=3, to_tier=2, reason="Usage tripled", changed_by=maya)
    return acme


def test_header_shows_tier_arr_plan_and_renewal_countdown(acme_page, alice_client, today):
    response = alice_client.get("/accounts/acme/")
    assert response.status_code == 200
    body = text(response)
    assert "<h1>Acme Analytics</h1>" in body
    assert '<span class="tier tier-2" data-testid="tier">Tier 2 · scaled</span>' in body
    assert "<dt>ARR</dt><dd>$125,000</dd>" in body
    # Plan and commit come from the active contract that started last (no commit on it).
    assert '<dt>Commit</dt><dd><span class="muted">None</span></dd>' in body
    assert '<span class="plan plan-datastreams">Datastreams</span>' in body
    assert '<span class="soon" data-testid="renewal-countdown">64 days left</span>' in body
    assert f"{md(today - timedelta(days=20))} – {md(today + timedelta(days=64))}" in body
    assert "<dt>CSM</dt><dd>Alice Archer</dd>" in body


def test_renewal_countdown_singular_and_far(acme, alice_client, today):
    ContractFactory(account=acme, start=today - timedelta(days=364), end=today + timedelta(days=1))
    body = text(alice_client.get("/accounts/acme/"))
    assert '<span class="soon" data-testid="renewal-countdown">1 day left</span>' in body


def test_no_active_contract(acme, alice_client):
    body = text(alice_client.get("/accounts/acme/"))
    assert "<dt>ARR</dt><dd>$0</dd>" in body
    assert "No active contract" in body
    assert 'data-testid="renewal-countdown"' not in body
    assert "No contracts. Import them" in body


def test_people_grouped_by_role_with_who_left_and_who_went_quiet(acme_page, alice_client, today):
    response = alice_client.get("/accounts/acme/")
    assert people(response) == [
        ("Exec sponsor", [("Erin Exec", "Quiet 61 days")]),
        (
            "Champion",
            [
                ("Cam Champion", "Engaged 60d ago"),
                ("Lee Leaver", f"Left {md(today - timedelta(days=7))}"),
            ],
        ),
        ("Data engineer", [("Dev Engineer", "Never engaged")]),
        ("Analyst", [("Fay Future", "Engaged 1d ago")]),  # leaving later: still here today
    ]


def test_no_contacts_says_how_to_add_them(acme, alice_client):
    assert "No contacts yet." in text(alice_client.get("/accounts/acme/"))


def test_contract_history_newest_first_with_state(acme_page, alice_client, today):
    response = alice_client.get("/accounts/acme/")
    card = response.text.split("<h2>Contracts</h2>", 1)[1].split("</section>", 1)[0]
    rows = re.findall(
        r'<tr class="contract-(\w+)"><td>(\w+ \d{4}) – (\w+ \d{4}).*?'
        r'<td>(\w+)</td><td class="num">\$([\d,]+)</td>',
        card,
        re.DOTALL,
    )
    month = "{:%b %Y}".format
    assert rows == [
        (
            "future",
            month(today + timedelta(days=65)),
            month(today + timedelta(days=429)),
            "Datastreams",
            "150,000",
        ),
        (
            "active",
            month(today - timedelta(days=20)),
            month(today + timedelta(days=45)),
            "Datastreams",
            "25,000",
        ),
        (
            "active",
            month(today - timedelta(days=300)),
            month(today + timedelta(days=64)),
            "Developer",
            "100,000",
        ),
        (
            "ended",
            month(today - timedelta(days=665)),
            month(today - timedelta(days=301)),
            "Explorer",
            "60,000",
        ),
    ]


def test_timeline_merges_touchpoints_and_tier_changes_newest_first(acme_page, alice_client):
    response = alice_client.get("/accounts/acme/")
    assert timeline(response) == [
        ("tier", "Tier 3 → 2"),
        ("nps", "NPS response · score 9"),
        ("qbr", "QBR"),
    ]
    body = text(response)
    assert "Usage tripled" in body
    assert "Loves the API" in body
    assert "Maya Manager" in body  # who moved the tier


@pytest.mark.parametrize("path", ["/accounts/nope/", "/accounts/ac%00me/"])
def test_unknown_account_is_404(alice_client, acme, path):
    response = alice_client.get(path)
    assert response.status_code == 404
    assert "There is nothing at this address." in response.text


def test_posting_to_an_unknown_account_is_404(alice_client, acme, today):
    response = alice_client.post(
        "/accounts/ac%00me/touchpoints", {"kind": "meeting", "date": today.isoformat()}
    )
    assert response.status_code == 404
    assert Touchpoint.objects.count() == 0


# --- logging a touchpoint --------------------------------------------------------------------


def test_logging_via_htmx_returns_the_timeline_with_the_new_note(
    acme_page, alice_client, alice, today
):
    contact = acme_page.contacts.get(name="Cam Champion")
    response = alice_client.post(
        "/accounts/acme/touchpoints",
        {
            "kind": "meeting",
            "date": today.isoformat(),
            "contact": str(contact.pk),
            "note": "Agreed a pilot on Base",
            "score": "",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<section id="activity"')
    assert timeline(response) == [
        ("meeting", "Meeting"),
        ("tier", "Tier 3 → 2"),
        ("nps", "NPS response · score 9"),
        ("qbr", "QBR"),
    ]
    assert "Agreed a pilot on Base" in response.text
    assert "Touchpoint logged." in response.text
    # The fresh form is back, empty, for the next one.
    assert 'id="touchpoint-form"' in response.text
    assert "Agreed a pilot on Base</textarea>" not in response.text
    new = Touchpoint.objects.get(note="Agreed a pilot on Base")
    assert (new.kind, new.date, new.contact_id, new.logged_by_id, new.score) == (
        "meeting",
        today,
        contact.pk,
        alice.pk,
        None,
    )


def test_logging_an_nps_with_a_score(acme, alice_client, today):
    response = alice_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "nps", "date": (today - timedelta(days=1)).isoformat(), "score": "10", "note": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert timeline(response) == [("nps", "NPS response · score 10")]
    assert list(Touchpoint.objects.values_list("kind", "score")) == [("nps", 10)]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"kind": "meeting", "date": "+1"}, "date", "A touchpoint cannot be in the future."),
        ({"kind": "meeting", "date": "31/01/2026"}, "date", "Give the date as YYYY-MM-DD."),
        ({"kind": "meeting", "date": ""}, "date", "Give the date as YYYY-MM-DD."),
        ({"kind": "nps", "score": "11"}, "score", "A NPS touchpoint needs a score from 0 to 10."),
        ({"kind": "nps", "score": ""}, "score", "A NPS touchpoint needs a score from 0 to 10."),
        (
            {"kind": "nps", "score": "great"},
            "score",
            "A NPS touchpoint needs a score from 0 to 10.",
        ),
        ({"kind": "csat", "score": "6"}, "score", "A CSAT touchpoint needs a score from 1 to 5."),
        (
            {"kind": "meeting", "score": "5"},
            "score",
            "Only NPS and CSAT touchpoints carry a score.",
        ),
        ({"kind": "lunch"}, "kind", "Choose a touchpoint kind."),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_invalid_touchpoint_is_rejected_with_a_message(
    acme_page, alice_client, today, form, field, message, htmx
):
    data = {"date": today.isoformat(), "note": "Keep this note", "score": "", **form}
    if data["date"] == "+1":
        data["date"] = (today + timedelta(days=1)).isoformat()
    rows = table_rows()
    headers = {"HX-Request": "true"} if htmx else {}

    response = alice_client.post("/accounts/acme/touchpoints", data, headers=headers)

    assert response.status_code == 422
    assert f"<li><strong>{field}</strong>: {message}</li>" in text(response)
    # The form keeps what was typed so nothing is lost.
    assert "Keep this note</textarea>" in response.text
    assert ("<html" in response.text) is not htmx
    assert table_rows() == rows


def test_contact_of_another_account_is_rejected(acme_page, alice_client, today):
    stranger = ContactFactory(account=AccountFactory(external_id="other"), name="Stranger")
    rows = table_rows()
    response = alice_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "meeting", "date": today.isoformat(), "contact": str(stranger.pk), "note": "x"},
    )
    assert response.status_code == 422
    assert "<li><strong>contact</strong>: Choose one of this account's contacts.</li>" in text(
        response
    )
    assert table_rows() == rows


def test_get_on_the_touchpoint_url_is_not_allowed(acme, alice_client):
    response = alice_client.get("/accounts/acme/touchpoints")
    assert response.status_code == 405
    assert Touchpoint.objects.count() == 0
