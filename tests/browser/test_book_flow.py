"""Log in, filter the book, open an account, log a touchpoint, see it on the timeline."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Touchpoint, User
from cs_portal.imports import run_import

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-pass-1"


def _book():
    assert run_import(
        "users",
        json_rows=[
            {"email": "alice@team.test", "role": "csm", "name": "Alice Chen"},
            {"email": "bob@team.test", "role": "csm", "name": "Bob Okafor"},
        ],
    ).ok
    accounts = [
        {
            "external_id": "acct-1",
            "name": "Northwind Payments",
            "segment": "institution",
            "tier": 1,
            "csm": "alice@team.test",
            "seats": 40,
        },
        {
            "external_id": "acct-2",
            "name": "Harbor Ledger",
            "segment": "institution",
            "tier": 2,
            "csm": "alice@team.test",
        },
        {"external_id": "acct-3", "name": "Tinybyte Labs", "segment": "self_serve", "tier": 3},
        {
            "external_id": "acct-4",
            "name": "Quartz Wallet",
            "segment": "institution",
            "tier": 1,
            "csm": "bob@team.test",
        },
    ]
    assert run_import("accounts", json_rows=accounts).ok
    assert run_import(
        "contracts",
        json_rows=[
            {
                "account": "acct-1",
                "start": "2026-03-01",
                "end": "2027-02-28",
                "arr": 480000,
                "plan": "datastreams",
                "commit_units": 4800000,
            },
            {
                "account": "acct-2",
                "start": "2026-06-01",
                "end": "2027-05-31",
                "arr": 90000,
                "plan": "developer",
            },
        ],
    ).ok
    assert run_import(
        "contacts",
        json_rows=[
            {
                "account": "acct-1",
                "email": "dana@northwind.example",
                "role": "champion",
                "name": "Dana Ruiz",
                "last_engaged": "2026-11-01",
            },
        ],
    ).ok
    user = User.objects.get(email="alice@team.test")
    user.set_password(PASSWORD)
    user.save()


def test_csm_filters_book_opens_account_and_logs_touchpoint(live_server, page, screenshot):
    _book()
    page.goto(f"{live_server.url}/book/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", "alice@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    # A CSM lands on their own book: two accounts, not Bob's or the pooled one.
    rows = page.locator("#book-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#book-table")).not_to_contain_text("Quartz Wallet")

    # Filter to tier 1 without a full reload; the URL keeps the filter.
    page.evaluate("window.__marker = 'same-page'")
    page.select_option("#f-tier", "1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Northwind Payments")
    expect(page).to_have_url(re.compile(r"tier=1"))
    assert page.evaluate("window.__marker") == "same-page"
    screenshot("book-filtered")

    page.click("text=Northwind Payments")
    expect(page.locator("h1")).to_have_text("Northwind Payments")
    expect(page.locator("[data-testid=renewal-countdown]")).to_contain_text("days left")

    page.select_option("#tp-kind", "meeting")
    page.select_option("#tp-contact", label="Dana Ruiz (Champion)")
    page.fill("#tp-note", "Walked through crosschain.dex.trades on Base; wants Solana decoding")
    page.click("#touchpoint-form button[type=submit]")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Solana decoding")
    expect(timeline).to_contain_text("Dana Ruiz")
    expect(page.locator("#activity")).to_contain_text("Touchpoint logged")
    screenshot("account-after-touchpoint")

    assert Touchpoint.objects.filter(account__external_id="acct-1", kind="meeting").count() == 1
