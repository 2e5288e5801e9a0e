"""A CSM edits a QBR draft in Chromium: a section's sentence inline, then hides one section and
moves another up, each swapped in by htmx without a page load, and all of it kept."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from cs_portal import clock
from health.models import UsageFact
from qbr.models import Qbr
from tests.factories import AccountFactory, ContractFactory, QbrFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]
PASSWORD = "browser-pass-15"


def _draft() -> Qbr:
    alice = UserFactory(email="alice@team.test", name="Alice Archer", role=Role.CSM)
    alice.set_password(PASSWORD)
    alice.save()
    account = AccountFactory(external_id="acme", name="Acme Analytics", tier=1, csm=alice)
    qbr = QbrFactory(account=account)
    ContractFactory(account=account, start=qbr.period_start, end=qbr.period_start + timedelta(364))
    days = (qbr.period_end - qbr.period_start).days + 1
    UsageFact.objects.bulk_create(
        UsageFact(
            account=account,
            date=qbr.period_start + timedelta(days=i),
            metric="units",
            value=100,
            product="developer",
            chain="ethereum",
        )
        for i in range(days)
    )
    return qbr


def _order(page) -> list[str]:
    return page.eval_on_selector_all(
        "#qbr-sections section[data-testid^=section-]",
        "els => els.map(e => e.dataset.testid.slice(8))",
    )


def test_inline_edit_hide_and_reorder_by_htmx(live_server, page):
    qbr = _draft()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/qbrs/{qbr.pk}/")
    expect(page.get_by_test_id("section-usage")).to_be_visible()
    page.evaluate("window.noReload = true")
    assert _order(page)[:3] == ["health", "outcomes", "usage"]

    usage = page.get_by_test_id("section-usage")
    usage.locator("summary").click()
    usage.locator("textarea").fill("Usage tripled on Ethereum since the pipeline went live.")
    with page.expect_response(lambda r: r.url.endswith("/section") and r.status == 200):
        usage.get_by_role("button", name="Save sentence").click()
    expect(page.get_by_test_id("sentence-usage")).to_have_text(
        "Usage tripled on Ethereum since the pipeline went live."
    )

    with page.expect_response(lambda r: r.url.endswith("/section")):
        page.get_by_test_id("hide-untapped").click()
    expect(page.get_by_test_id("section-untapped")).to_have_attribute("data-visible", "no")
    expect(page.get_by_test_id("show-untapped")).to_be_visible()

    with page.expect_response(lambda r: r.url.endswith("/section")):
        page.get_by_test_id("up-roadmap").click()
    expect(page.get_by_test_id("section-roadmap")).to_be_visible()
    order = _order(page)
    assert order.index("roadmap") == order.index("commit") - 1
    assert page.evaluate("window.noReload") is True  # every change came in as a fragment

    page.reload()
    assert _order(page) == order
    expect(page.get_by_test_id("sentence-usage")).to_have_text(
        "Usage tripled on Ethereum since the pipeline went live."
    )
    qbr.refresh_from_db()
    assert qbr.layout["visible"] == {"untapped": False}
    assert qbr.layout["sentences"]["usage"].startswith("Usage tripled")
    assert qbr.snapshot is None and clock.today()
