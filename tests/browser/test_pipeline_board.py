"""The expansion pipeline in Chromium: a CSM moves a card from identified to qualified with the
inline form (htmx), the board re-renders with the card in its new column and the same filter,
and the move is recorded with who made it. The account's Expansion tab draws its evidence chart.
No page breaks the strict CSP."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Role, User
from cs_portal import clock
from expansion.models import StageChange
from health.models import UsageFact
from tests.factories import AccountFactory, ContractFactory, OpportunityFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]

PASSWORD = "browser-pass-9"
LISTEN = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} from ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _book():
    alice = User.objects.create_user("alice@team.test", PASSWORD, name="Alice Chen", role=Role.CSM)
    ava = User.objects.create_user("ava@team.test", PASSWORD, name="Ava Exec", role=Role.AE)
    acme = AccountFactory(external_id="acme", name="Acme Analytics", csm=alice, ae=ava, seats=10)
    ContractFactory(account=acme, arr=Decimal(100_000))
    day = clock.last_complete_day()
    UsageFact.objects.bulk_create(
        UsageFact(
            account=acme, date=day - timedelta(days=i), metric="active_users", value=8 + i % 5
        )
        for i in range(56)
    )
    seats = OpportunityFactory(
        account=acme,
        evidence={"trigger": "seats", "chart": "users", "peak_users_28": 12, "seats": 10},
    )
    StageChange.objects.create(
        opportunity=seats, to_stage="identified", changed_at=seats.created_at
    )
    other = AccountFactory(external_id="globex", name="Globex Data", tier=1, ae=ava)
    OpportunityFactory(
        account=other,
        kind="upgrade",
        target="developer",
        arr_potential=Decimal(30_000),
        thesis="Active on 24 of the last 28 days with 3,120 queries (130 per active day).",
    )
    return seats


def test_a_csm_moves_a_card_and_the_board_follows(live_server, page, screenshot):
    seats = _book()
    page.context.add_init_script(LISTEN)
    page.goto(f"{live_server.url}/pipeline/")
    page.fill("#id_username", "alice@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pipeline/$"))

    identified = page.locator('[data-stage="identified"]')
    expect(identified.get_by_test_id("opp-card")).to_have_count(2)
    expect(page.get_by_test_id("sum-identified")).to_have_text("$50,000")

    with page.expect_response(lambda r: "/pipeline/?" in r.url):  # filter by kind with htmx
        page.select_option("#f-kind", "seats")
    expect(identified.get_by_test_id("opp-card")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"kind=seats"))

    card = page.locator(f"#opp-{seats.pk}")
    card.get_by_text("Move…").click()
    card.get_by_test_id("move-stage").select_option("qualified")
    with page.expect_response(lambda r: f"/opportunities/{seats.pk}/move" in r.url):
        card.get_by_role("button", name="Move").click()

    expect(page.get_by_test_id("notice")).to_have_text("Acme Analytics: moved to qualified.")
    qualified = page.locator('[data-stage="qualified"]')
    expect(qualified.locator(f"#opp-{seats.pk}")).to_be_visible()
    expect(page.get_by_test_id("count-identified")).to_have_text("0")  # still filtered on seats
    change = StageChange.objects.filter(opportunity=seats).latest("id")
    assert (change.to_stage, change.changed_by.email) == ("qualified", "alice@team.test")
    assert page.evaluate("window.cspViolations") == []
    screenshot("pipeline-board")

    page.goto(f"{live_server.url}/accounts/acme/expansion/")
    expect(page.locator(f"#chart-opp-{seats.pk} .main-svg").first).to_be_visible()
    assert page.evaluate("window.cspViolations") == []
    screenshot("account-expansion-tab")
    for path in ("/pipeline/table/", "/pipeline/triggers/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("h1")).to_have_count(1)
        assert page.evaluate("window.cspViolations") == []
