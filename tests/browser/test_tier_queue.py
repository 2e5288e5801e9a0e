"""A manager opens the tier queue and approves the spike's promotion inline; the account's tier
changes and its history is written. A CSM sees the same queue read-only."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Account, Role, TierChange, User
from health.services import last_complete_day
from playbooks.models import TierSuggestion
from playbooks.tiering.services import tier_suggestions_refresh
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks.success_helpers import snapshot

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-pass-1"


def _queue() -> tuple[Account, Account]:
    day = last_complete_day()
    manager = User.objects.create_user(
        "maya@team.test", PASSWORD, name="Maya Lindqvist", role=Role.MANAGER
    )
    User.objects.create_user("alice@team.test", PASSWORD, name="Alice Chen", role=Role.CSM)
    spike = AccountFactory(
        external_id="orbit", name="Orbitmoth Works", tier=3, segment="self_serve"
    )
    coasting = AccountFactory(external_id="cobalt", name="Cobalt Ridge", tier=1)
    for account in (spike, coasting):
        ContractFactory(
            account=account,
            start=day - timedelta(days=100),
            arr=Decimal(3000 if account.tier == 3 else 330000),
        )
    snapshot(spike, day, facts={"spike_ratio": 7.31, "units_7": 3003.3, "prior_daily_avg": 58.7})
    snapshot(coasting, day, facts={"trend_ratio": 1.04})
    assert len(tier_suggestions_refresh(as_of=day)) == 2
    assert manager.is_manager
    return spike, coasting


def _login(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/tiers/queue/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/tiers/queue/$"))


def test_manager_approves_a_promotion_inline(live_server, page, screenshot):
    spike, coasting = _queue()
    _login(page, live_server, "maya@team.test")

    rows = page.locator("#tier-queue tbody tr")
    expect(rows).to_have_count(2)
    # Promotions first, with the evidence in numbers.
    expect(rows.first).to_contain_text("Orbitmoth Works")
    expect(rows.first).to_contain_text("usage 7.3× its prior daily average")
    expect(rows.first.locator(".evidence")).to_contain_text("59 units")
    screenshot("tier-queue")

    page.evaluate("window.__marker = 'same-page'")
    page.click("[data-testid=approve-orbit]")
    row = page.locator("#tier-queue tr[data-account=orbit]")
    expect(row.locator("[data-testid=decision]")).to_have_text("Approved")
    expect(row).to_contain_text("Orbitmoth Works is tier 2 now")
    expect(row).to_contain_text("by Maya Lindqvist")
    assert page.evaluate("window.__marker") == "same-page"  # inline, no reload
    # The other suggestion is untouched and still decidable.
    expect(page.locator("[data-testid=approve-cobalt]")).to_be_visible()
    screenshot("tier-queue-approved")

    spike.refresh_from_db()
    assert spike.tier == 2
    [change] = TierChange.objects.filter(account=spike)
    assert (change.from_tier, change.to_tier, change.changed_by.email) == (3, 2, "maya@team.test")
    assert change.reason.startswith("Approved suggestion: Promote to tier 2: usage 7.3×")
    assert TierSuggestion.objects.get(account=spike).status == "approved"
    coasting.refresh_from_db()
    assert coasting.tier == 1

    # The account's timeline shows the move with its evidence.
    page.goto(f"{live_server.url}/accounts/orbit/")
    expect(page.locator("[data-testid=tier]")).to_have_text("Tier 2 · scaled")
    expect(page.locator("body")).to_contain_text("Approved suggestion: Promote to tier 2")


def test_csm_sees_the_queue_read_only(live_server, page):
    _queue()
    _login(page, live_server, "alice@team.test")

    expect(page.locator("#tier-queue tbody tr")).to_have_count(2)
    expect(page.locator("#tier-queue")).to_contain_text("awaiting a manager")
    expect(page.locator("[data-testid=approve-orbit]")).to_have_count(0)
