"""The routing editor and alert preferences in Chromium under the strict CSP: a manager turns
Slack off for tier-1 band changes, previews the noise before and after, saves a new version and
finds it in the history; a CSM mutes the digest, sees the required row explained, and a kind
every rule requires is locked."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from health.services import last_complete_day
from playbooks.models import RoutingPreference, RoutingRules
from playbooks.routing.rules import default_rules
from playbooks.routing.services import routing_save
from tests.browser.test_every_page import LISTEN
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.alert_helpers import make_alert

pytestmark = [pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-pass-17"


def _login(page, live_server, email: str) -> None:
    page.context.add_init_script(LISTEN)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/login/"))


def _people():
    maya = UserFactory(email="maya@team.test", name="Maya Manager", role="manager")
    alice = UserFactory(email="alice@team.test", name="Alice Archer", role="csm")
    for user in (maya, alice):
        user.set_password(PASSWORD)
        user.save()
    return maya, alice


def test_a_manager_previews_and_saves_a_routing_change(live_server, page, screenshot):
    maya, alice = _people()
    northwind = AccountFactory(external_id="northwind", name="Northwind", tier=1, csm=alice)
    for n in range(4):
        make_alert(northwind, key=f"k{n}", as_of=last_complete_day() - timedelta(days=n))
    _login(page, live_server, "maya@team.test")

    page.goto(f"{live_server.url}/alerts/routing/")
    row = page.get_by_test_id("rule-band_change-worse-1")
    row.locator("input[value=slack]").uncheck()
    page.get_by_test_id("preview-button").click()

    preview = page.get_by_test_id("routing-preview")
    expect(preview).to_contain_text(
        "Band change (worse, tier 1): Inbox + Slack to Owning CSM → Inbox to Owning CSM"
    )
    slack = preview.locator("tr", has_text="Slack messages")
    expect(slack.locator("td")).to_have_text(["4", "0"])  # four alerts, four stories
    expect(preview.get_by_test_id("noise-per-csm-week").locator("td")).to_have_text(["1.0", "1.0"])
    # the draft survives the preview: the box stays unchecked
    expect(
        page.get_by_test_id("rule-band_change-worse-1").locator("input[value=slack]")
    ).not_to_be_checked()
    screenshot("routing-preview")
    assert RoutingRules.objects.count() == 1

    page.fill("#routing-note", "tier-1 band changes: inbox only")
    page.get_by_test_id("save-button").click()

    expect(page.locator("#flashes .flash")).to_contain_text("Saved routing v2")
    history = page.get_by_test_id("version")
    expect(history.first).to_contain_text("v2")
    expect(history.first).to_contain_text("Maya Manager")
    expect(history.first).to_contain_text("tier-1 band changes: inbox only")
    assert page.evaluate("window.cspViolations") == []
    assert RoutingRules.objects.get(version=2).created_by == maya


def test_a_csm_mutes_the_digest_and_meets_a_locked_kind(live_server, page, screenshot):
    maya, alice = _people()
    rules = default_rules()
    for row in rules:
        if row["kind"] == "score_drop":
            row["required"] = True
    routing_save(rules=rules, user=maya, note="score drops are never muted")
    _login(page, live_server, "alice@team.test")

    page.goto(f"{live_server.url}/alerts/preferences/")
    expect(page.get_by_test_id("pref-kind-renewal_risk")).to_contain_text(
        "Still reaches you on tier 1: required there."
    )
    locked = page.get_by_test_id("pref-kind-score_drop")
    expect(locked.get_by_test_id("locked")).to_be_visible()
    expect(locked.locator("input")).to_be_disabled()
    page.get_by_test_id("pref-channel-email").locator("input").check()
    page.get_by_test_id("pref-kind-commit_threshold").locator("input").check()
    screenshot("alert-preferences")
    page.get_by_role("button", name="Save my preferences").click()

    expect(page.locator("#flashes .flash")).to_contain_text("Saved")
    expect(page.get_by_test_id("pref-channel-email").locator("input")).to_be_checked()
    pref = RoutingPreference.objects.get(user=alice)
    assert (pref.muted_kinds, pref.muted_channels) == (["commit_threshold"], ["email"])
    assert page.evaluate("window.cspViolations") == []
