"""GET /api/v1/voc/themes and /api/v1/voc/themes/{key}: the contract's fields, its filters, and
a bad filter answered 400."""

from __future__ import annotations

import pytest

from tests.factories import FeedbackItemFactory, HealthSnapshotFactory, ThemeFactory


@pytest.fixture
def api(client, alice_token):
    def get(path: str):
        return client.get(path, HTTP_AUTHORIZATION=f"Bearer {alice_token}")

    return get


@pytest.fixture
def themes(book, as_of):
    solana = ThemeFactory(key="coverage-gap-solana", title="Coverage gap: Solana", chain="solana")
    docs = ThemeFactory(key="docs", title="Docs", type="docs", chain="", status="planned")
    FeedbackItemFactory(account=book["acme"], theme=solana, title="a")
    FeedbackItemFactory(account=book["acme"], theme=solana, title="b", severity="critical")
    FeedbackItemFactory(account=book["initech"], theme=solana, title="c")
    FeedbackItemFactory(account=book["globex"], theme=docs, title="d")
    HealthSnapshotFactory(account=book["acme"], date=as_of, band="red", score=30)
    return solana


def test_the_list_has_the_contract_fields_sorted_by_arr(api, themes):
    body = api("/api/v1/voc/themes").json()

    assert [t["key"] for t in body] == ["docs", "coverage-gap-solana"]
    solana = body[1]
    assert {k: solana[k] for k in ("title", "type", "accounts", "items", "status")} == {
        "title": "Coverage gap: Solana",
        "type": "coverage_gap",
        "accounts": 2,
        "items": 3,
        "status": "new",
    }
    assert (solana["arr"], solana["arr_at_risk"], solana["arr_to_win"]) == (
        "120000.00",
        "100000.00",
        "0.00",
    )


def test_the_filters_narrow_the_list(api, themes):
    assert [t["key"] for t in api("/api/v1/voc/themes?type=docs").json()] == ["docs"]
    assert [t["key"] for t in api("/api/v1/voc/themes?chain=solana").json()] == [themes.key]
    assert [t["key"] for t in api("/api/v1/voc/themes?status=planned").json()] == ["docs"]
    by_segment = api("/api/v1/voc/themes?segment=self_serve").json()
    assert [(t["key"], t["arr"]) for t in by_segment] == [(themes.key, "20000.00")]


def test_a_bad_filter_is_a_400_naming_it(api, themes):
    response = api("/api/v1/voc/themes?status=done&segment=x")

    assert response.status_code == 400
    assert "status must be one of" in response.json()["detail"]
    assert "segment must be one of" in response.json()["detail"]


def test_one_theme_adds_its_accounts_and_items(api, themes):
    body = api(f"/api/v1/voc/themes/{themes.key}").json()

    assert [(a["external_id"], a["severity"], a["at_risk"]) for a in body["accounts_detail"]] == [
        ("acme", "critical", True),
        ("initech", "medium", False),
    ]
    assert sorted(i["title"] for i in body["items_detail"]) == ["a", "b", "c"]
    assert body["items_detail"][0]["arr_at_log"] == "50000.00"
    assert api("/api/v1/voc/themes/nope").status_code == 404
