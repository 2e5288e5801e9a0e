"""The QBR pages by role: Alice edits her account's QBRs, Bob (another CSM) and Pat (product)
read them, Maya (a manager) edits every account's; a denied request changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cs_portal import clock
from playbooks.models import Task
from qbr.models import Qbr, QbrStatus
from tests.conftest import table_rows
from tests.factories import QbrFactory
from tests.qbr.conftest import TITLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def qbr(acme_book, alice, quarter) -> Qbr:
    return QbrFactory(
        account=acme_book, period_start=quarter.start, period_end=quarter.end, created_by=alice
    )


def test_the_prep_page_shows_every_section_with_its_numbers(alice_client, qbr, quarter):
    page = alice_client.get(f"/qbrs/{qbr.pk}/").content.decode()
    for title in TITLES:
        assert title in page
    assert f"€{1000 * quarter.days:,}" in page
    assert "solana.dex.trades" in page
    assert 'data-testid="save-qbr"' in page
    assert 'data-testid="hide-usage"' in page


def test_the_account_tab_lists_qbrs_and_prepares_the_last_full_quarter(
    alice_client, acme_book, quarter
):
    page = alice_client.get(f"/accounts/{acme_book.external_id}/qbrs/").content.decode()
    assert "No QBR for this account yet" in page
    assert f'value="{quarter.start.isoformat()}"' in page
    response = alice_client.post(
        f"/accounts/{acme_book.external_id}/qbrs/",
        {"start": quarter.start.isoformat(), "end": quarter.end.isoformat()},
    )
    qbr = Qbr.objects.get(account=acme_book)
    assert response.status_code == 302
    assert response["Location"] == f"/qbrs/{qbr.pk}/"
    page = alice_client.get(f"/accounts/{acme_book.external_id}/qbrs/").content.decode()
    assert f'href="/qbrs/{qbr.pk}/"' in page
    assert f'href="/qbrs/{qbr.pk}/deck.pptx"' in page


def test_a_bad_period_is_refused_with_the_reason(alice_client, acme_book):
    today = clock.today()
    response = alice_client.post(
        f"/accounts/{acme_book.external_id}/qbrs/",
        {"start": today.isoformat(), "end": (today - timedelta(days=3)).isoformat()},
    )
    assert response.status_code == 422
    assert "The period must end on or after its start." in response.content.decode()
    assert not Qbr.objects.exists()


def test_htmx_section_edit_answers_the_sections_fragment(alice_client, qbr):
    response = alice_client.post(
        f"/qbrs/{qbr.pk}/section",
        {"key": "usage", "action": "sentence", "sentence": "Usage grew where it matters."},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Usage grew where it matters." in body
    assert "<html" not in body
    assert response["Vary"].count("HX-Request") == 1
    alice_client.post(
        f"/qbrs/{qbr.pk}/section",
        {"key": "health", "action": "show"},
        headers={"HX-Request": "true"},
    )
    alice_client.post(f"/qbrs/{qbr.pk}/section", {"key": "roadmap", "action": "up"})
    qbr.refresh_from_db()
    assert qbr.layout["visible"] == {"health": True}
    assert qbr.layout["order"].index("roadmap") < qbr.layout["order"].index("commit")


def test_a_bad_section_edit_changes_nothing(alice_client, qbr):
    before = table_rows()
    response = alice_client.post(
        f"/qbrs/{qbr.pk}/section", {"key": "nope", "action": "hide"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert table_rows() == before


@pytest.mark.parametrize("who", ["bob_client", "pat_client"])
def test_others_read_but_every_change_is_refused_and_changes_nothing(request, who, qbr):
    client = request.getfixturevalue(who)
    page = client.get(f"/qbrs/{qbr.pk}/").content.decode()
    assert "Outcomes" in page
    assert 'data-testid="save-qbr"' not in page
    assert 'data-testid="steps-form"' not in page
    assert client.get(f"/qbrs/{qbr.pk}/print/").status_code == 200
    assert client.get(f"/qbrs/{qbr.pk}/deck.pptx").status_code == 200
    before = table_rows()
    due = (clock.today() + timedelta(days=7)).isoformat()
    posts = [
        (
            f"/accounts/{qbr.account.external_id}/qbrs/",
            {"start": "2026-01-01", "end": "2026-03-31"},
        ),
        (f"/qbrs/{qbr.pk}/section", {"key": "usage", "action": "hide"}),
        (f"/qbrs/{qbr.pk}/save", {}),
        (f"/qbrs/{qbr.pk}/held", {"on": clock.today().isoformat()}),
        (
            f"/qbrs/{qbr.pk}/steps",
            {
                "steps-TOTAL_FORMS": "1",
                "steps-INITIAL_FORMS": "0",
                "steps-0-text": "Eval",
                "steps-0-customer_owner": "Them",
                "steps-0-due": due,
            },
        ),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert table_rows() == before


def test_a_manager_edits_any_accounts_qbr(maya_client, qbr, acme_book):
    assert maya_client.post(f"/qbrs/{qbr.pk}/save").status_code == 302
    qbr.refresh_from_db()
    assert qbr.status == QbrStatus.PREPARED
    on = clock.today().isoformat()
    assert maya_client.post(f"/qbrs/{qbr.pk}/held", {"on": on}).status_code == 302
    qbr.refresh_from_db()
    assert qbr.status == QbrStatus.HELD
    assert acme_book.touchpoints.filter(kind="qbr").count() == 1


def test_steps_form_creates_tasks_and_a_resave_creates_none(alice_client, qbr, acme_book, alice):
    due = (clock.today() + timedelta(days=10)).isoformat()
    data = {
        "steps-TOTAL_FORMS": "3",
        "steps-INITIAL_FORMS": "0",
        "steps-0-text": "Two-week Solana eval",
        "steps-0-customer_owner": "Their data lead",
        "steps-0-due": due,
        "steps-1-text": "Size the next commit",
        "steps-1-owner": str(alice.pk),
        "steps-1-due": due,
        "steps-2-text": "",
    }
    assert alice_client.post(f"/qbrs/{qbr.pk}/steps", data).status_code == 302
    assert Task.objects.filter(account=acme_book).count() == 2
    ids = list(qbr.steps.order_by("position").values_list("pk", flat=True))
    data["steps-0-step_id"], data["steps-1-step_id"] = str(ids[0]), str(ids[1])
    assert alice_client.post(f"/qbrs/{qbr.pk}/steps", data).status_code == 302
    assert Task.objects.filter(account=acme_book).count() == 2
    page = alice_client.get(f"/qbrs/{qbr.pk}/").content.decode()
    assert "Two-week Solana eval" in page
    assert "Their data lead" in page


def test_a_step_without_owner_or_date_is_refused(alice_client, qbr, acme_book):
    data = {
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-0-text": "Someone should do something",
    }
    response = alice_client.post(f"/qbrs/{qbr.pk}/steps", data)
    assert response.status_code == 422
    body = response.content.decode()
    assert "Give each step an owner" in body
    assert "Give each step a date." in body
    assert not Task.objects.filter(account=acme_book).exists()


def test_the_printable_page_has_one_page_per_visible_section(alice_client, qbr):
    page = alice_client.get(f"/qbrs/{qbr.pk}/print/").content.decode()
    assert page.count('class="qbr-page"') == 6  # the health line is hidden by default
    assert 'data-testid="print-health"' not in page
    assert "Acme Analytics × Allium" in page


def test_unknown_qbr_is_a_404(alice_client):
    assert alice_client.get("/qbrs/999999/").status_code == 404
    assert alice_client.get("/qbrs/999999/deck.pptx").status_code == 404
