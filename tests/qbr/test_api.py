"""GET /api/v1/accounts/{external_id}/qbrs and GET /api/v1/qbrs/{id}.pptx: every role with a
token reads, as for accounts; no token, no data; the deck is a real .pptx."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pptx import Presentation

from cs_portal import clock
from qbr import services
from tests.factories import ApiTokenFactory, QbrFactory

pytestmark = pytest.mark.django_db
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _get(client, path: str, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(path, **headers)


@pytest.fixture
def qbrs(acme_book, alice, quarter):
    older = QbrFactory(
        account=acme_book,
        period_start=quarter.start - timedelta(days=92),
        period_end=quarter.start - timedelta(days=1),
    )
    services.qbr_mark_held(qbr=older, by=alice, on=quarter.start + timedelta(days=5))
    latest = QbrFactory(account=acme_book, period_start=quarter.start, period_end=quarter.end)
    return latest, older


def test_list_returns_the_accounts_qbrs_latest_first(client, alice_token, qbrs, quarter):
    latest, older = qbrs
    response = _get(client, "/api/v1/accounts/acme/qbrs", alice_token)
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body] == [latest.pk, older.pk]
    assert body[0]["period"] == {
        "start": quarter.start.isoformat(),
        "end": quarter.end.isoformat(),
    }
    assert [row["status"] for row in body] == ["draft", "held"]
    assert body[1]["held_on"] == (quarter.start + timedelta(days=5)).isoformat()
    assert set(body[0]) == {"id", "period", "status", "created_at", "held_on"}


def test_the_deck_downloads_as_pptx(client, pat, qbrs):
    ApiTokenFactory(user=pat, raw="csp_pat_product_token")
    latest, _ = qbrs
    response = _get(client, f"/api/v1/qbrs/{latest.pk}.pptx", "csp_pat_product_token")
    assert response.status_code == 200
    assert response["Content-Type"] == PPTX
    assert response["Content-Disposition"].startswith('attachment; filename="qbr-acme-analytics-')
    deck = Presentation(io.BytesIO(response.content))
    assert deck.slides[0].shapes.title.text_frame.text == "Acme Analytics × Allium"


def test_without_a_token_nothing_is_served(client, qbrs):
    latest, _ = qbrs
    assert _get(client, "/api/v1/accounts/acme/qbrs", None).status_code == 401
    response = _get(client, f"/api/v1/qbrs/{latest.pk}.pptx", "wrong")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Missing or invalid token. Send Authorization: Bearer <token>."
    }


def test_unknown_account_or_qbr_is_a_404(client, alice_token, acme):
    assert _get(client, "/api/v1/accounts/nope/qbrs", alice_token).status_code == 404
    response = _get(client, "/api/v1/qbrs/424242.pptx", alice_token)
    assert response.status_code == 404
    assert response.json() == {"detail": "no QBR 424242"}


def test_the_api_writes_nothing(client, alice_token, qbrs):
    from tests.conftest import table_rows

    latest, _ = qbrs
    before = table_rows()
    _get(client, f"/api/v1/qbrs/{latest.pk}.pptx", alice_token)
    _get(client, "/api/v1/accounts/acme/qbrs", alice_token)
    assert table_rows() == before
    assert latest.snapshot is None and clock.today()
