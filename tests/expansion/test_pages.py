"""The board, the table and its CSV, moving a card with htmx, the triggers page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from expansion.models import Opportunity, StageChange, TriggerSettings
from tests.factories import AccountFactory, OpportunityFactory, UserFactory


@pytest.fixture
def book(opp, bob, ava):
    """Besides acme's identified seats card ($20,000): Bob's tier-1 upgrade, qualified
    ($50,000), and a won breadth card on a tier-3 account ($8,000 won)."""
    big = AccountFactory(external_id="bigco", name="Bigco", tier=1, csm=bob, ae=ava)
    OpportunityFactory(
        account=big, kind="upgrade", target="datastreams", stage="qualified", arr_potential=50_000
    )
    small = AccountFactory(external_id="smallco", name="Smallco", tier=3, csm=None, ae=ava)
    OpportunityFactory(
        account=small,
        kind="breadth",
        target="solana",
        stage="won",
        arr_potential=10_000,
        won_arr=Decimal(8_000),
    )
    return opp


def test_the_board_totals_each_column(book, maya_client):
    page = maya_client.get("/pipeline/").content.decode()
    assert 'data-testid="count-identified">1<' in page
    assert 'data-testid="sum-identified">$20,000<' in page
    assert 'data-testid="weighted-identified">$2,000 weighted<' in page  # 10 %
    assert 'data-testid="sum-qualified">$50,000<' in page
    assert 'data-testid="weighted-qualified">$15,000 weighted<' in page  # 30 %
    assert 'data-testid="sum-won">$8,000<' in page
    assert 'data-testid="win-rate-breadth">100 %<' in page


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("tier=1", "Bigco", "Acme Analytics"),
        ("kind=seats", "Acme Analytics", "Bigco"),
        ("csm={bob}", "Bigco", "Acme Analytics"),
    ],
)
def test_the_board_filters(book, maya_client, bob, query, shown, hidden):
    page = maya_client.get("/pipeline/?" + query.format(bob=bob.pk)).content.decode()
    assert f">{shown}</a>" in page and f">{hidden}</a>" not in page


@pytest.mark.parametrize(
    "query", ["tier=9", "csm=abc", "csm=99999999999999999999999", "kind=%00", "ae=1&tier=x"]
)
def test_a_bad_filter_says_so_and_never_500s(book, maya_client, query):
    response = maya_client.get("/pipeline/?" + query)
    assert response.status_code == 400
    assert "could not be applied" in response.content.decode()
    assert maya_client.get("/pipeline/table/?" + query).status_code == 400


def test_moving_a_card_with_htmx_records_who_and_when_and_returns_the_board(
    book, alice_client, alice
):
    response = alice_client.post(
        f"/opportunities/{book.pk}/move",
        {"stage": "qualified", "kind": "seats"},
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="board"' in page and "<html" not in page  # the fragment
    assert "Acme Analytics: moved to qualified." in page
    assert ">Bigco</a>" not in page  # the board keeps the filter it was sent
    change = StageChange.objects.filter(opportunity=book).latest("id")
    assert (change.to_stage, change.changed_by) == ("qualified", alice)


def test_a_refused_move_is_explained_on_the_board(book, alice_client):
    response = alice_client.post(
        f"/opportunities/{book.pk}/move", {"stage": "won"}, headers={"HX-Request": "true"}
    )
    assert "cannot move from identified to won" in response.content.decode()
    assert Opportunity.objects.get(pk=book.pk).stage == "identified"


def test_a_plain_post_redirects_to_the_board(book, alice_client):
    response = alice_client.post(f"/opportunities/{book.pk}/move", {"stage": "qualified"})
    assert response.status_code == 302 and response["Location"].startswith("/pipeline/")


def test_another_csm_cannot_move_a_card(book, bob_client):
    response = bob_client.post(f"/opportunities/{book.pk}/move", {"stage": "qualified"})
    assert response.status_code == 403
    assert Opportunity.objects.get(pk=book.pk).stage == "identified"
    assert StageChange.objects.filter(opportunity=book).count() == 1


def test_the_board_offers_moves_only_to_who_may_make_them(book, bob_client, alice_client):
    assert (
        f'action="/opportunities/{book.pk}/move"'
        not in bob_client.get("/pipeline/").content.decode()
    )
    assert (
        f'action="/opportunities/{book.pk}/move"' in alice_client.get("/pipeline/").content.decode()
    )


def test_the_table_sorts_and_exports_csv(book, maya_client):
    page = maya_client.get("/pipeline/table/?sort=arr").content.decode()
    assert page.index(">Smallco</a>") < page.index(">Acme Analytics</a>") < page.index(">Bigco</a>")
    page = maya_client.get("/pipeline/table/?sort=-arr").content.decode()
    assert page.index(">Bigco</a>") < page.index(">Acme Analytics</a>")

    response = maya_client.get("/pipeline/table/?format=csv&kind=upgrade")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [
        (r["account"], r["kind"], r["target"], r["stage"], r["arr_potential"]) for r in rows
    ] == [("bigco", "upgrade", "datastreams", "qualified", "50000.00")]


def test_the_account_tab_shows_open_and_past_opportunities_with_evidence(book, maya_client):
    page = maya_client.get("/accounts/acme/expansion/").content.decode()
    assert 'data-testid="open-opp"' in page and book.thesis in page
    assert "No open opportunity" not in page
    assert 'aria-current="page">Expansion</a>' in page
    assert "None won or lost yet." in page


def test_a_manager_changes_a_trigger_and_every_version_is_kept(db, maya_client, maya):
    from expansion.rules import DEFAULTS

    form = {k: v for k, v in DEFAULTS.items() if not isinstance(v, bool)}
    form |= {k: "on" for k, v in DEFAULTS.items() if v is True and k != "seats_on"}
    form |= {"commit_consumed_min": "0.85", "note": "upsize sooner"}
    response = maya_client.post("/pipeline/triggers/", form)
    assert response.status_code == 302
    latest = TriggerSettings.objects.order_by("-version").first()
    assert latest.version == 2 and latest.created_by == maya
    assert latest.values["seats_on"] is False and latest.values["commit_consumed_min"] == 0.85
    page = maya_client.get("/pipeline/triggers/").content.decode()
    assert page.count("Saved version 2; the next recompute uses it.") == 1  # said once
    assert "Seats trigger on: on → off" in page and "Share of commit consumed: 0.9 → 0.85" in page
    assert "upsize sooner" in page and TriggerSettings.objects.count() == 2


def test_a_bad_threshold_is_refused_and_nothing_saved(db, maya_client):
    response = maya_client.post("/pipeline/triggers/", {"commit_consumed_min": "7"})
    assert response.status_code == 400
    assert TriggerSettings.objects.count() == 1  # the defaults, shown


def test_only_managers_change_triggers(db, alice_client):
    assert alice_client.post("/pipeline/triggers/", {"seats_on": ""}).status_code == 403
    assert TriggerSettings.objects.count() <= 1
    page = alice_client.get("/pipeline/triggers/").content.decode()
    assert "A CS manager changes them." in page and "<fieldset disabled" in page


def test_the_nav_links_the_pipeline(db, alice_client):
    assert 'href="/pipeline/"' in alice_client.get("/book/").content.decode()


def test_an_ae_sees_their_own_filter_choice(book, ava):
    other = UserFactory(role="ae", name="Zed")
    from django.test import Client

    client = Client()
    client.force_login(other)
    page = client.get(f"/pipeline/?ae={ava.pk}").content.decode()
    assert ">Bigco</a>" in page and f'value="{ava.pk}" selected' in page


def test_the_table_pages_fifty_at_a_time_keeping_filters_and_sort(maya_client, acme, alice):
    for n in range(60):
        OpportunityFactory(account=acme, kind="seats", target=f"seats-{n}", owner=alice)
    first = maya_client.get("/pipeline/table/?kind=seats&sort=-arr")
    html = first.content.decode()
    assert html.count('data-testid="opp-row"') == 50
    assert "Showing 1–50 of 60" in html
    assert 'href="?kind=seats&amp;sort=-arr&amp;page=2"' in html
    second = maya_client.get("/pipeline/table/?kind=seats&sort=-arr&page=2").content.decode()
    assert second.count('data-testid="opp-row"') == 10
    assert "Showing 51–60 of 60" in second
    # A page past the end or not a number shows a page, never an error.
    assert maya_client.get("/pipeline/table/?page=99").status_code == 200
    assert maya_client.get("/pipeline/table/?page=%00x").status_code == 200
