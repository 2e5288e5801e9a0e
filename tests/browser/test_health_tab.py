"""Open an account's Health tab in Chromium: the breakdown explains the score, charts draw."""

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import User
from cs_portal.imports import run_import
from health.services import health_recompute, last_complete_day

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]
PASSWORD = "browser-pass-2"


def _account_with_a_cliff():
    assert run_import(
        "users",
        json_rows=[{"email": "maya@team.test", "role": "manager", "name": "Maya Lindqvist"}],
    ).ok
    assert run_import(
        "accounts",
        json_rows=[
            {
                "external_id": "acct-9",
                "name": "Meridian Capital Research",
                "segment": "institution",
                "tier": 1,
                "seats": 20,
            }
        ],
    ).ok
    end = last_complete_day()
    assert run_import(
        "contracts",
        json_rows=[
            {
                "account": "acct-9",
                "start": (end - timedelta(days=200)).isoformat(),
                "end": (end + timedelta(days=165)).isoformat(),
                "arr": 400000,
                "plan": "developer",
                "commit_units": 3650000,
            }
        ],
    ).ok
    rows = []
    for back in range(90):
        day = end - timedelta(days=back)
        units = 2000 if back < 9 else 10000
        rows += [
            {
                "account": "acct-9",
                "date": day.isoformat(),
                "metric": "units",
                "value": units,
                "product": "developer",
                "chain": "ethereum" if back % 2 else "base",
            },
            {
                "account": "acct-9",
                "date": day.isoformat(),
                "metric": "queries",
                "value": units // 50,
            },
            {"account": "acct-9", "date": day.isoformat(), "metric": "active_users", "value": 6},
        ]
    assert run_import("usage", json_rows=rows).ok
    start = date.fromordinal(end.toordinal() - 30)
    for offset in range(31):
        health_recompute(as_of=start + timedelta(days=offset))
    user = User.objects.get(email="maya@team.test")
    user.set_password(PASSWORD)
    user.save()


def test_health_tab_explains_the_score_and_draws_charts(live_server, page, screenshot):
    _account_with_a_cliff()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "maya@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/accounts/acct-9/")
    page.click("nav.tabs >> text=Health")

    expect(page.locator("[data-testid=band]")).to_have_text("Red")
    expect(page.locator("[data-testid=override-sharp_drop]")).to_contain_text("last 7 days")
    rows = page.locator("#breakdown tbody tr")
    expect(rows).to_have_count(11)  # eleven signals, recency included
    expect(page.locator("#breakdown tr[data-signal=usage_trend]")).to_contain_text("units")
    expect(page.locator("#breakdown tr[data-signal=sentiment]")).to_contain_text(
        "no NPS or CSAT response"
    )
    # Plotly draws SVG into each chart container, with the title we gave it.
    expect(page.locator("#chart-trend .main-svg").first).to_be_visible()
    expect(page.locator("#chart-trend")).to_contain_text("Health score, last 90 days")
    expect(page.locator("#chart-burn_up")).to_contain_text("Commit burn-up")
    expect(page.locator("#chart-units_chain")).to_contain_text("ethereum")
    screenshot("health-tab")
    assert not [p for p in problems if "Content Security Policy" in p], problems
