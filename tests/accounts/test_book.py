"""The book of accounts (/book/): landing, filters, search, sort, pages, htmx and bad input.

Also the commercial figures the book derives from contracts (accounts.selectors).
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.selectors import accounts_with_commercials, book_summary
from tests.factories import AccountFactory, ContractFactory

ALL_BY_RENEWAL = ["crm-0042", "cyb-7", "eagle", "acme", "dunder"]


def listed(response) -> list[str]:
    """External ids of the accounts in the book table, top to bottom."""
    return re.findall(r'<a class="acct" href="/accounts/([^/]+)/"', response.text)


def text(response) -> str:
    return html.unescape(response.text)


def active_contract(account, *, days_left: int, arr: str, plan: str, today, **extra):
    """A contract that started 100 days ago and ends `days_left` days from today."""
    return ContractFactory(
        account=account,
        start=today - timedelta(days=100),
        end=today + timedelta(days=days_left),
        arr=Decimal(arr),
        plan=plan,
        **extra,
    )


@pytest.fixture
def book(acme, alice, bob, today):
    """Five accounts: two of alice's, two of bob's, one pooled.

    | id       | name              | csm   | tier | segment     | plan        | ARR    | renews |
    | acme     | Acme Analytics    | alice | 2    | institution | developer   | 100000 | +200 d |
    | crm-0042 | Bluth Holdings    | alice | 1    | institution | explorer    | 50000  | +20 d  |
    | cyb-7    | Cyberdyne Systems | bob   | 3    | self_serve  | datastreams | 300000 | +60 d  |
    | dunder   | Dunder Data       | bob   | 2    | self_serve  | (ended)     | 0      | lapsed |
    | eagle    | Eagle Eye         | -     | 3    | self_serve  | credits     | 10000  | +85 d  |
    """
    bluth = AccountFactory(external_id="crm-0042", name="Bluth Holdings", csm=alice, tier=1)
    cyb = AccountFactory(
        external_id="cyb-7", name="Cyberdyne Systems", csm=bob, tier=3, segment="self_serve"
    )
    dunder = AccountFactory(
        external_id="dunder", name="Dunder Data", csm=bob, tier=2, segment="self_serve"
    )
    eagle = AccountFactory(
        external_id="eagle", name="Eagle Eye", csm=None, tier=3, segment="self_serve"
    )
    active_contract(acme, days_left=200, arr="100000", plan="developer", today=today)
    active_contract(bluth, days_left=20, arr="50000", plan="explorer", today=today)
    active_contract(cyb, days_left=60, arr="300000", plan="datastreams", today=today)
    active_contract(eagle, days_left=85, arr="10000", plan="credits", today=today)
    ContractFactory(
        account=dunder,
        start=today - timedelta(days=400),
        end=today - timedelta(days=36),
        arr=Decimal("80000"),
        plan="developer",
    )
    return {"acme": acme, "bluth": bluth, "cyb": cyb, "dunder": dunder, "eagle": eagle}


# --- landing ---------------------------------------------------------------------------------


def test_csm_lands_on_their_own_accounts(book, alice_client):
    response = alice_client.get("/book/")
    assert response.status_code == 200
    assert listed(response) == ["crm-0042", "acme"]
    assert "Your accounts" in response.text
    assert '<span class="kpi-value" data-testid="count">2</span>' in response.text
    assert "$150,000" in response.text  # the book's ARR: 50k + 100k


def test_other_csm_lands_on_theirs(book, bob_client):
    assert listed(bob_client.get("/book/")) == ["cyb-7", "dunder"]


@pytest.mark.parametrize("persona", ["maya_client", "pat_client"])
def test_manager_and_product_see_every_account(book, request, persona):
    response = request.getfixturevalue(persona).get("/book/")
    assert response.status_code == 200
    assert listed(response) == ALL_BY_RENEWAL
    assert "Every account you can see" in response.text
    assert '<span class="kpi-value" data-testid="count">5</span>' in response.text
    assert "$460,000" in response.text
    # Renewing in 90 days: bluth, cyberdyne, eagle = 360k.
    assert '3 <small class="muted">· $360,000</small>' in response.text


def test_csm_can_widen_to_everyone(book, alice_client):
    assert listed(alice_client.get("/book/?csm=all")) == ALL_BY_RENEWAL


def test_empty_book_says_how_to_fill_it(db, maya_client):
    response = maya_client.get("/book/")
    assert response.status_code == 200
    assert listed(response) == []
    assert "The book is empty." in response.text


# --- filters and search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tier=1", ["crm-0042"]),
        ("tier=2", ["acme", "dunder"]),
        ("tier=3", ["cyb-7", "eagle"]),
        ("segment=self_serve", ["cyb-7", "eagle", "dunder"]),
        ("segment=institution", ["crm-0042", "acme"]),
        ("plan=explorer", ["crm-0042"]),
        ("plan=developer", ["acme"]),  # dunder's developer contract has ended
        ("plan=credits", ["eagle"]),
        ("csm=none", ["eagle"]),
        ("renewal=30", ["crm-0042"]),
        ("renewal=90", ["crm-0042", "cyb-7", "eagle"]),
        ("renewal=365", ["crm-0042", "cyb-7", "eagle", "acme"]),
        ("renewal=lapsed", ["dunder"]),
        ("q=dunder", ["dunder"]),
        ("q=DATA", ["dunder"]),
        ("q=0042", ["crm-0042"]),  # by external_id
        ("q=cyb-", ["cyb-7"]),
        ("q=nothing-like-this", []),
        ("tier=3&segment=self_serve&renewal=90", ["cyb-7", "eagle"]),
        ("tier=2&renewal=lapsed", ["dunder"]),
    ],
)
def test_filters_return_exactly_the_matching_accounts(book, maya_client, query, expected):
    response = maya_client.get(f"/book/?{query}")
    assert response.status_code == 200
    assert listed(response) == expected


def test_filter_by_csm_id(book, maya_client, alice, bob):
    assert listed(maya_client.get(f"/book/?csm={bob.pk}")) == ["cyb-7", "dunder"]
    assert listed(maya_client.get(f"/book/?csm={alice.pk}")) == ["crm-0042", "acme"]


def test_csm_me_is_the_requesting_user(book, bob_client, maya_client):
    assert listed(bob_client.get("/book/?csm=me")) == ["cyb-7", "dunder"]
    assert listed(maya_client.get("/book/?csm=me")) == []


def test_filters_with_no_match_say_so(book, maya_client):
    response = maya_client.get("/book/?tier=1&segment=self_serve")
    assert listed(response) == []
    assert "Nothing in the book matches these filters." in response.text


# --- sorting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-arr", ["cyb-7", "acme", "crm-0042", "eagle", "dunder"]),
        ("arr", ["dunder", "eagle", "crm-0042", "acme", "cyb-7"]),
        ("renewal", ALL_BY_RENEWAL),
        ("-renewal", ["acme", "eagle", "cyb-7", "crm-0042", "dunder"]),  # no renewal: last
        ("name", ["acme", "crm-0042", "cyb-7", "dunder", "eagle"]),
        ("-name", ["eagle", "dunder", "cyb-7", "crm-0042", "acme"]),
        ("tier", ["crm-0042", "acme", "dunder", "cyb-7", "eagle"]),
        ("-tier", ["cyb-7", "eagle", "acme", "dunder", "crm-0042"]),  # ties stay by name
        ("plan", ["eagle", "cyb-7", "acme", "crm-0042", "dunder"]),
    ],
)
def test_sort(book, maya_client, sort, expected):
    response = maya_client.get(f"/book/?sort={sort}")
    assert response.status_code == 200
    assert listed(response) == expected


def test_sorted_column_is_marked_and_links_flip_it(book, maya_client):
    response = maya_client.get("/book/?sort=-arr")
    assert '<th scope="col" class="num sorted" aria-sort="descending">' in response.text
    assert 'href="?sort=arr"' in response.text  # clicking ARR again sorts ascending
    assert 'href="?sort=name"' in response.text


# --- pagination ------------------------------------------------------------------------------


def test_page_two_shows_the_rest(book, maya_client, settings):
    settings.BOOK_PAGE_SIZE = 3
    first = maya_client.get("/book/")
    second = maya_client.get("/book/?page=2")
    assert listed(first) == ["crm-0042", "cyb-7", "eagle"]
    assert listed(second) == ["acme", "dunder"]
    assert "Showing 1–3 of 5" in first.text
    assert "Page 1 of 2" in first.text
    assert 'href="?sort=risk&amp;page=2"' in first.text
    assert 'rel="prev"' not in first.text
    assert "Showing 4–5 of 5" in second.text
    assert 'rel="next"' not in second.text
    assert 'href="?sort=risk"' in second.text  # back to page 1


def test_pages_keep_the_filters(book, alice_client, settings):
    settings.BOOK_PAGE_SIZE = 1
    first = alice_client.get("/book/")
    assert listed(first) == ["crm-0042"]
    assert 'href="?csm=me&amp;sort=risk&amp;page=2"' in first.text
    assert listed(alice_client.get("/book/?csm=me&sort=renewal&page=2")) == ["acme"]


def test_page_past_the_end_shows_the_last_page(book, maya_client, settings):
    settings.BOOK_PAGE_SIZE = 3
    response = maya_client.get("/book/?page=99")
    assert response.status_code == 200
    assert listed(response) == ["acme", "dunder"]


# --- htmx ------------------------------------------------------------------------------------


def test_htmx_request_gets_the_results_fragment(book, maya_client):
    response = maya_client.get("/book/?tier=2", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "<h1>Book of accounts</h1>" not in response.text
    assert response.text.lstrip().startswith('<section id="results"')
    assert listed(response) == ["acme", "dunder"]
    assert "HX-Request" in response["Vary"]


def test_plain_request_gets_the_full_page(book, maya_client):
    response = maya_client.get("/book/?tier=2")
    assert response.status_code == 200
    assert response.text.startswith("<!doctype html>")
    assert "<h1>Book of accounts</h1>" in response.text
    assert 'id="book-filters"' in response.text
    assert listed(response) == ["acme", "dunder"]
    assert "HX-Request" in response["Vary"]


# --- bad query values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tier=9", "tier must be 1, 2 or 3, not '9'"),
        ("tier=one", "tier must be 1, 2 or 3, not 'one'"),
        (
            "sort=bogus",
            "sort must be one of risk, health, name, tier, plan, arr, renewal, csm "
            "(prefix '-' to reverse)",
        ),
        ("band=purple", "band must be one of red, yellow, green, unscored, not 'purple'"),
        ("page=abc", "page must be a positive whole number, not 'abc'"),
        ("page=0", "page must be a positive whole number, not '0'"),
        ("page=-1", "page must be a positive whole number, not '-1'"),
        ("segment=x", "segment must be one of institution, self_serve"),
        ("plan=gold", "plan must be one of explorer, developer, datastreams, credits"),
        ("csm=alice", "csm must be a CSM's id, 'me' or 'none', not 'alice'"),
        ("renewal=45", "renewal must be 30, 60, 90, 180, 365 (days) or 'lapsed'"),
        # Look like numbers to str.isdigit() but not to int(), or are too big for an id.
        ("csm=%C2%B2", "csm must be a CSM's id, 'me' or 'none', not '²'"),
        ("page=%C2%B2", "page must be a positive whole number, not '²'"),
        (
            "csm=99999999999999999999",
            "csm must be a CSM's id, 'me' or 'none', not '99999999999999999999'",
        ),
        (f"page={'9' * 5000}", "page: keep this to 200 characters (it has 5,000)"),
        (
            "tier=9&segment=x",
            "tier must be 1, 2 or 3, not '9'; segment must be one of institution, self_serve",
        ),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_query_values_answer_400_with_a_readable_message(
    book, maya_client, query, message, htmx
):
    headers = {"HX-Request": "true"} if htmx else {}
    response = maya_client.get(f"/book/?{query}", headers=headers)
    assert response.status_code == 400
    assert f"This filter could not be applied: {message}. Showing the whole book instead." in text(
        response
    )
    assert ("<html" in response.text) is not htmx
    assert listed(response) == ALL_BY_RENEWAL


def test_a_search_with_a_nul_character_is_refused_with_a_message(book, maya_client):
    response = maya_client.get("/book/?q=dun%00der")
    assert response.status_code == 400
    assert "contains a NUL character (0x00); remove it" in text(response)


def test_bad_query_value_for_a_csm_still_answers_400(book, alice_client):
    response = alice_client.get("/book/?sort=bogus")
    assert response.status_code == 400
    assert "sort must be one of" in text(response)


# --- derived commercials ---------------------------------------------------------------------


def test_arr_sums_overlapping_active_contracts_and_ignores_ended_ones(acme, today):
    ContractFactory(
        account=acme,
        start=today - timedelta(days=30),
        end=today + timedelta(days=335),
        arr=Decimal("120000"),
        plan="developer",
    )
    ContractFactory(
        account=acme,
        start=today - timedelta(days=10),
        end=today + timedelta(days=90),
        arr=Decimal("30000.50"),
        plan="datastreams",
        commit_units=Decimal("5000"),
    )
    ContractFactory(
        account=acme,
        start=today - timedelta(days=400),
        end=today - timedelta(days=31),
        arr=Decimal("999999"),
        plan="explorer",
    )
    ContractFactory(
        account=acme,
        start=today + timedelta(days=336),
        end=today + timedelta(days=700),
        arr=Decimal("777777"),
        plan="explorer",
    )

    account = accounts_with_commercials().get(external_id="acme")

    assert account.current_arr == Decimal("150000.50")
    assert account.current_plan == "datastreams"  # the active contract that started last
    assert account.current_commit == Decimal("5000")
    assert account.period_start == today - timedelta(days=10)
    assert account.renewal_date == today + timedelta(days=335)  # latest end among active ones


def test_contract_on_its_first_and_last_day_is_active(acme, today):
    ContractFactory(account=acme, start=today, end=today + timedelta(days=10), arr=Decimal(7))
    other = AccountFactory(external_id="other")
    ContractFactory(account=other, start=today - timedelta(days=10), end=today, arr=Decimal(9))
    arr = dict(accounts_with_commercials().values_list("external_id", "current_arr"))
    assert arr == {"acme": Decimal(7), "other": Decimal(9)}


def test_account_with_only_an_ended_contract_has_no_arr_plan_or_renewal(acme, today):
    ContractFactory(
        account=acme,
        start=today - timedelta(days=400),
        end=today - timedelta(days=1),
        arr=Decimal("80000"),
    )
    account = accounts_with_commercials().get(external_id="acme")
    assert (account.current_arr, account.current_plan, account.renewal_date) == (
        Decimal(0),
        None,
        None,
    )


def test_book_shows_derived_arr_plan_and_renewal(book, maya_client, today):
    ContractFactory(
        account=book["acme"],
        start=today - timedelta(days=5),
        end=today + timedelta(days=30),
        arr=Decimal("25000"),
        plan="datastreams",
    )
    response = maya_client.get("/book/?q=acme")
    row = re.search(
        r'<a class="acct" href="/accounts/acme/".*?</tr>', response.text, re.DOTALL
    ).group(0)
    assert "$125,000" in row
    assert '<span class="plan plan-datastreams">Datastreams</span>' in row
    assert "200 days left" in row
    renewal = today + timedelta(days=200)
    assert f"{renewal:%b} {renewal.day}, {renewal.year}" in row


def test_book_summary_totals(book):
    summary = book_summary(accounts_with_commercials())
    assert summary == {
        "accounts": 5,
        "arr": Decimal("460000"),
        "renewing": 3,
        "renewing_arr": Decimal("360000"),
        "red": 0,
        "red_arr": Decimal(0),
    }
