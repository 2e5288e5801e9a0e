"""The pages and the role rules: product edits themes, CSMs log items on their own accounts,
everyone else reads; a refused request writes nothing."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import table_rows
from tests.factories import FeedbackItemFactory, ThemeFactory, TouchpointFactory
from voc.models import FeedbackItem, Theme, ThemeEvent


@pytest.fixture
def themes(book):
    solana = ThemeFactory(key="coverage-gap-solana", title="Coverage gap: Solana", chain="solana")
    docs = ThemeFactory(key="docs", title="Docs: decoded logs", type="docs", chain="")
    FeedbackItemFactory(account=book["globex"], theme=solana, title="Solana DEX trades")
    FeedbackItemFactory(account=book["acme"], theme=solana, title="Solana too", source="qbr")
    FeedbackItemFactory(account=book["initech"], theme=docs, title="Better docs")
    return {"solana": solana, "docs": docs}


def keys_in(page: str, themes: dict) -> list[str]:
    found = {page.find(f'data-key="{t.key}"'): t.key for t in themes.values()}
    return [key for at, key in sorted(found.items()) if at >= 0]


def test_the_list_sorts_by_arr_and_filters_by_segment_tier_and_source(alice_client, themes):
    page = alice_client.get("/voc/").content.decode()
    assert keys_in(page, themes) == ["coverage-gap-solana", "docs"]  # $350,000 before $20,000
    assert "$350,000" in page

    page = alice_client.get("/voc/?sort=arr").content.decode()
    assert keys_in(page, themes) == ["docs", "coverage-gap-solana"]

    page = alice_client.get("/voc/?segment=self_serve").content.decode()
    assert keys_in(page, themes) == ["docs"]

    page = alice_client.get("/voc/?source=qbr").content.decode()
    assert keys_in(page, themes) == ["coverage-gap-solana"] and "$100,000" in page


def test_a_bad_query_string_is_named_not_a_500(alice_client, themes):
    response = alice_client.get("/voc/?type=nope&tier=9&sort=%00")

    assert response.status_code == 400
    page = response.content.decode()
    assert "type must be one of" in page and "tier must be 1, 2 or 3" in page
    assert keys_in(page, themes) == ["coverage-gap-solana", "docs"]


def test_the_csv_export_has_the_filtered_list_in_order(alice_client, themes):
    response = alice_client.get("/voc/themes.csv?type=coverage_gap")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["key", "title", "type"]
    assert [r[0] for r in rows[1:]] == ["coverage-gap-solana"]
    assert rows[1][6:11] == ["2", "2", "350000.00", "0.00", "0.00"]


def test_the_theme_page_shows_accounts_items_and_the_failures_chart(pat_client, themes, book):
    item = FeedbackItemFactory(
        account=book["acme"],
        theme=themes["solana"],
        source="behavioral",
        reason="chain_not_covered",
    )
    item.days.create(date=item.date, failures=7)

    page = pat_client.get("/voc/themes/coverage-gap-solana/").content.decode()

    assert 'data-testid="chart-failures"' in page and "failed queries per day" in page
    assert page.index('data-account="globex"') < page.index('data-account="acme"')
    assert 'data-testid="status-form"' in page


def test_product_moves_a_theme_and_renames_it(pat_client, pat, themes):
    response = pat_client.post("/voc/themes/docs/status", {"to": "triaged"})
    assert response.status_code == 302
    pat_client.post("/voc/themes/docs/edit", {"title": "Docs: logs", "description": "Soon"})

    theme = Theme.objects.get(key="docs")
    assert (theme.status, theme.title, theme.description) == ("triaged", "Docs: logs", "Soon")
    assert list(ThemeEvent.objects.values_list("kind", "by")) == [
        ("status", pat.pk),
        ("rename", pat.pk),
    ]


def test_declining_without_a_reason_is_refused_on_the_page(pat_client, themes):
    response = pat_client.post("/voc/themes/docs/status", {"to": "declined"})

    assert response.status_code == 422
    assert "say why the theme is declined" in response.content.decode()
    assert Theme.objects.get(key="docs").status == "new"


@pytest.mark.parametrize("who", ["alice_client", "maya_client"])
def test_csms_and_managers_read_themes_but_do_not_change_them(who, request, themes):
    client = request.getfixturevalue(who)
    before = table_rows()

    page = client.get("/voc/themes/docs/").content.decode()
    posts = [
        client.post("/voc/themes/docs/status", {"to": "shipped"}),
        client.post("/voc/themes/docs/edit", {"title": "Mine"}),
        client.post("/voc/themes/docs/merge", {"into": "coverage-gap-solana"}),
    ]

    assert 'data-testid="status-form"' not in page
    assert [r.status_code for r in posts] == [403, 403, 403]
    assert table_rows() == before


def test_a_csm_logs_feedback_on_their_account_and_it_joins_its_theme(alice_client, alice, themes):
    response = alice_client.post(
        "/accounts/acme/feedback/",
        {
            "date": "2026-01-05",
            "type": "coverage_gap",
            "severity": "high",
            "title": "Solana DEX decoding",
            "chain": "Solana",
            "source": "slack",
        },
    )

    assert response.status_code == 302
    item = FeedbackItem.objects.get(title="Solana DEX decoding")
    assert (item.theme, item.logged_by, item.chain, item.source) == (
        themes["solana"],
        alice,
        "solana",
        "slack",
    )
    page = alice_client.get("/accounts/acme/feedback/").content.decode()
    assert "Solana DEX decoding" in page and 'data-testid="item-theme-status"' in page


@pytest.mark.parametrize("who", ["bob_client", "pat_client"])
def test_others_cannot_log_feedback_on_alices_account(who, request, themes):
    client = request.getfixturevalue(who)
    before = table_rows()

    page = client.get("/accounts/acme/feedback/").content.decode()
    response = client.post(
        "/accounts/acme/feedback/",
        {"date": "2026-01-05", "type": "docs", "severity": "low", "title": "Not mine"},
    )

    assert 'data-testid="feedback-form"' not in page and "Solana too" in page
    assert response.status_code == 403
    assert table_rows() == before


def test_a_bad_item_is_named_and_nothing_is_written(alice_client, themes):
    before = FeedbackItem.objects.count()

    response = alice_client.post(
        "/accounts/acme/feedback/",
        {"date": "2026-01-05", "type": "wish", "severity": "low", "title": "x", "chain": "So lana"},
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "is not a chain slug" in page and "Select a valid choice" in page
    assert FeedbackItem.objects.count() == before


def test_a_csm_votes_for_a_theme_on_behalf_of_their_account_only(alice_client, bob_client, themes):
    response = alice_client.post(
        "/voc/themes/docs/vote", {"account": "acme", "severity": "high", "note": "Same ask"}
    )
    again = alice_client.post(
        "/voc/themes/docs/vote", {"account": "acme", "severity": "high", "note": "Same ask"}
    )
    refused = bob_client.post("/voc/themes/docs/vote", {"account": "acme", "severity": "low"})

    assert (response.status_code, again.status_code, refused.status_code) == (302, 302, 403)
    assert list(
        Theme.objects.get(key="docs")
        .items.values_list("account__external_id", flat=True)
        .order_by("account__external_id")
    ) == ["acme", "initech"]


def test_product_splits_items_off_from_the_page(pat_client, themes):
    ids = list(
        themes["solana"].items.filter(account__external_id="acme").values_list("pk", flat=True)
    )

    response = pat_client.post(
        "/voc/themes/coverage-gap-solana/items", {"items": ids, "title": "Solana for Acme"}
    )

    assert response.status_code == 302 and response["Location"] == "/voc/themes/solana-for-acme/"
    assert Theme.objects.get(key="solana-for-acme").items.count() == 1


def test_a_qbr_note_starts_an_item_with_its_date_words_and_source(alice_client, book):
    qbr = TouchpointFactory(
        account=book["acme"], kind="qbr", date="2026-02-10", note="Needs Solana DEX trades\nsoon"
    )

    page = alice_client.get(f"/accounts/acme/feedback/?from_qbr={qbr.pk}").content.decode()
    ignored = alice_client.get("/accounts/acme/feedback/?from_qbr=%00x").status_code

    assert 'value="2026-02-10"' in page and 'value="Needs Solana DEX trades"' in page
    assert '<option value="qbr" selected>' in page
    assert ignored == 200
