"""The manager's cockpit in Chromium: the manager lands on it, every panel loads on its own
after the page under the strict CSP, the charts draw, and a panel's filter swaps the panel."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import User
from cs_portal.imports import run_import
from health.services import last_complete_day
from tests.browser.test_every_page import LISTEN
from tests.browser.test_health_tab import _account_with_a_cliff

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]
PASSWORD = "browser-pass-9"
PANELS = ("tiers", "health", "renewals", "retention", "workload")


def test_cockpit_panels_load_and_draw(live_server, page, screenshot, settings):
    settings.RECOMPUTE_SETTLE_SECONDS = 0
    _account_with_a_cliff()  # acct-9: ARR 400,000 today, scored for 31 days
    end = last_complete_day()
    # The year before: 300,000, so contract NRR is 400,000 / 300,000 = 133.3 %.
    assert run_import(
        "contracts",
        json_rows=[
            {
                "account": "acct-9",
                "start": (end - timedelta(days=565)).isoformat(),
                "end": (end - timedelta(days=201)).isoformat(),
                "arr": 300000,
                "plan": "explorer",
            }
        ],
    ).ok
    maya = User.objects.get(email="maya@team.test")
    maya.set_password(PASSWORD)
    maya.save()
    page.context.add_init_script(LISTEN)

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "maya@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/cockpit/$"))
    for name in PANELS:
        expect(page.locator(f"#panel-{name}")).not_to_contain_text("Loading", timeout=15000)
    page.wait_for_load_state("networkidle")

    expect(page.get_by_test_id("tier-1")).to_contain_text("1 · $400,000")
    expect(page.get_by_test_id("nrr-contract")).to_have_text("133.3 %")
    expect(page.get_by_test_id("grr-contract")).to_have_text("100.0 %")
    charts = page.locator("[id^=chart-]")
    assert charts.count() >= 3  # health: accounts and ARR; retention trend
    for chart in charts.all():
        expect(chart.locator(".main-svg").first).to_be_visible()

    # A panel's own filter reloads that panel only.
    with page.expect_response(lambda r: "/cockpit/panels/health/?" in r.url):
        page.select_option("#f-htier", "2")
    expect(page.locator("#panel-health")).to_contain_text("No health scores yet for this selection")
    expect(page.get_by_test_id("nrr-contract")).to_have_text("133.3 %")

    assert page.evaluate("window.cspViolations") == []
    assert page.locator("h1").count() == 1
    screenshot("cockpit-manager")

    # The nav's menus: one open at a time, Escape closes, a link inside goes where it says.
    growth = page.locator("details.navgroup", has_text="Growth")
    data = page.locator("details.navgroup", has_text="Data")
    growth.locator("summary").click()
    expect(growth.get_by_role("link", name="Pipeline")).to_be_visible()
    data.locator("summary").click()
    expect(growth.get_by_role("link", name="Pipeline")).to_be_hidden()
    expect(data.get_by_role("link", name="Incidents")).to_be_visible()
    page.keyboard.press("Escape")
    expect(data.get_by_role("link", name="Incidents")).to_be_hidden()
    data.locator("summary").click()
    data.get_by_role("link", name="Incidents").click()
    expect(page).to_have_url(re.compile(r"/incidents/$"))
    expect(page.locator("details.navgroup", has_text="Data").locator("summary")).to_have_class(
        "current"
    )
