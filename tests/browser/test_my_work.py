"""Work a task from My work: complete it inline, see it leave the open list and land in
"Done today" without a full reload; claim a pooled task the same way."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import Account, Role, User
from playbooks.models import Alert, AlertKind, Task
from playbooks.plays import services as plays
from playbooks.plays.library import playbooks_load_defaults

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-pass-1"
CALL = "Call the data engineer: is a pipeline broken, paused or being rebuilt in-house?"


def _queue() -> User:
    alice = User.objects.create_user("alice@team.test", PASSWORD, name="Alice Chen", role=Role.CSM)
    harbor = Account.objects.create(
        external_id="acct-2", name="Harbor Ledger", segment="institution", tier=2, csm=alice
    )
    tiny = Account.objects.create(
        external_id="acct-3", name="Tinybyte Labs", segment="self_serve", tier=3
    )
    playbooks_load_defaults()
    yesterday = date.today() - timedelta(days=1)
    alerts = [
        Alert.objects.create(
            account=harbor,
            kind=AlertKind.OVERRIDE,
            key=f"{yesterday}:sharp_drop",
            as_of=yesterday,
            title="Harbor Ledger: sharp_drop",
            detail="usage fell 80%",
            data={"override": "sharp_drop", "band": "red"},
            owner=alice,
        ),
        Alert.objects.create(
            account=tiny,
            kind=AlertKind.USAGE_SPIKE,
            key=f"{yesterday}",
            as_of=yesterday,
            title="Tinybyte Labs: usage 8.0× its normal",
            detail="spike",
            data={"spike_ratio": 8.0},
        ),
    ]
    assert len(plays.plays_start_for_alerts(alerts)) == 2
    Task.objects.create(
        account=harbor,
        title="Send the renewal paper",
        owner=alice,
        due=date.today() - timedelta(days=2),
    )
    return alice


def test_csm_completes_a_task_inline_and_claims_from_the_pool(live_server, page, screenshot):
    _queue()
    page.goto(f"{live_server.url}/work/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", "alice@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/work/")

    expect(page.locator("h1")).to_have_text("My work")
    overdue = page.locator("#group-overdue")
    today = page.locator("#group-today")
    expect(overdue).to_contain_text("Send the renewal paper")
    expect(overdue).to_contain_text("2 days overdue")
    expect(today.locator("[data-testid=task-row]")).to_have_count(1)
    expect(today).to_contain_text(CALL)
    expect(today).to_contain_text("Harbor Ledger")
    expect(today).to_contain_text("Sharp drop: find out why within 48 hours")
    expect(page.locator("#pool-queue [data-testid=task-row]")).to_have_count(3)
    screenshot("my-work")

    page.evaluate("window.__marker = 'same-page'")
    today.locator("[data-testid=task-row]", has_text=CALL).locator("[data-testid=complete]").click()

    expect(page.locator("[data-testid=notice]")).to_have_text(f"Done: {CALL}")
    expect(page.locator("#group-today")).to_have_count(0)  # the only task of today is done
    expect(page.locator("#done-today")).to_contain_text(CALL)
    expect(page.locator("[data-testid=count-done] .kpi-value")).to_have_text("1")
    assert page.evaluate("window.__marker") == "same-page"
    task = Task.objects.get(title=CALL)
    assert task.status == "done" and task.completed_by.email == "alice@team.test"
    screenshot("my-work-after-complete")

    pool = page.locator("#pool-queue")
    pool.locator("[data-testid=task-row]", has_text="Look at what spiked").locator(
        "[data-testid=claim]"
    ).click()

    expect(page.locator("[data-testid=notice]")).to_contain_text("Claimed: Look at what spiked")
    expect(page.locator("#group-today")).to_contain_text("Look at what spiked")
    expect(page.locator("#pool-queue")).to_contain_text("Nobody is waiting")
    assert page.evaluate("window.__marker") == "same-page"
    assert set(
        Task.objects.filter(account__external_id="acct-3").values_list("owner__email", flat=True)
    ) == {"alice@team.test"}
