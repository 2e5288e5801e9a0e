"""The QBRs due: tier 1 without a QBR (held here, or a qbr touchpoint) in 100 days, tier 2
renewing within 120 days; a CSM sees their own, a manager everyone's; one click prepares."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.models import TouchpointKind
from cs_portal import clock
from qbr.models import Qbr
from qbr.selectors import qbrs_due
from tests.factories import AccountFactory, ContractFactory, TouchpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(alice, bob):
    today = clock.today()
    accounts = {}

    def make(key, tier, csm, renews_in=300):
        account = AccountFactory(external_id=key, name=key.title(), tier=tier, csm=csm)
        end = today + timedelta(days=renews_in)
        ContractFactory(account=account, start=end - timedelta(days=364), end=end)
        accounts[key] = account
        return account

    make("never", 1, alice)  # tier 1, no QBR ever: due
    stale = make("stale", 1, alice)  # tier 1, last QBR 130 days ago: due
    TouchpointFactory(account=stale, kind=TouchpointKind.QBR, date=today - timedelta(days=130))
    fresh = make("fresh", 1, alice)  # tier 1, QBR 20 days ago: not due
    TouchpointFactory(account=fresh, kind=TouchpointKind.QBR, date=today - timedelta(days=20))
    make("renewing", 2, alice, renews_in=90)  # tier 2 renewing in 90 days: due
    make("later", 2, alice, renews_in=200)  # tier 2 renewing in 200 days: not due
    make("digital", 3, None, renews_in=30)  # tier 3: never
    make("bobs", 1, bob)  # Bob's tier 1 without a QBR
    return accounts


def test_due_for_a_csm_are_their_own(book, alice):
    rows = qbrs_due(user=alice, as_of=clock.today())
    assert [(r.account.external_id, r.reason) for r in rows] == [
        ("never", "Tier 1: no QBR yet"),
        ("stale", "Tier 1: last QBR 130 days ago"),
        ("renewing", "Tier 2: renews in 90 days"),
    ]


def test_a_manager_sees_everyones_and_can_narrow_to_one_csm(book, maya, bob):
    rows = qbrs_due(user=maya, as_of=clock.today())
    assert {r.account.external_id for r in rows} == {"never", "stale", "renewing", "bobs"}
    assert [r.account.external_id for r in qbrs_due(csm=bob, as_of=clock.today())] == ["bobs"]


def test_due_list_is_a_fixed_number_of_queries(book, maya, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        qbrs_due(user=maya, as_of=clock.today())


def test_the_due_page_prepares_in_one_click(alice_client, book):
    page = alice_client.get("/qbrs/due/").content.decode()
    assert 'data-testid="prepare-never"' in page
    assert "Bobs" not in page
    response = alice_client.post(
        "/accounts/never/qbrs/",
        {"start": _field(page, "start"), "end": _field(page, "end")},
    )
    qbr = Qbr.objects.get(account__external_id="never")
    assert response["Location"] == f"/qbrs/{qbr.pk}/"
    page = alice_client.get("/qbrs/due/").content.decode()
    assert f'href="/qbrs/{qbr.pk}/"' in page  # open the draft rather than prepare another


def test_a_manager_filters_by_csm_and_junk_is_named(maya_client, book, bob):
    page = maya_client.get(f"/qbrs/due/?csm={bob.pk}").content.decode()
    assert "Bobs" in page and "Never" not in page
    response = maya_client.get("/qbrs/due/?csm=nobody")
    assert response.status_code == 200
    assert "csm must be a person&#x27;s id" in response.content.decode()


def _field(page: str, name: str) -> str:
    marker = f'name="{name}" value="'
    at = page.index(marker) + len(marker)
    return page[at : page.index('"', at)]
