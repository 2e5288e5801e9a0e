"""The cockpit page and its panels: htmx fragments, role scope, links, empty states, and the
retention panel agreeing with the API."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import TouchpointKind
from health.models import Band
from playbooks.models import TaskStatus
from tests.factories import (
    AccountFactory,
    ContractFactory,
    HealthSnapshotFactory,
    TaskFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _panel(client, name: str, **params):
    return client.get(f"/cockpit/panels/{name}/", params, **HX)


def test_managers_land_on_the_cockpit_and_csms_on_the_book(maya_client, alice_client):
    assert maya_client.get("/")["Location"] == "/cockpit/"
    assert alice_client.get("/")["Location"] == "/book/"


def test_the_page_loads_each_panel_after_itself(maya_client):
    page = maya_client.get("/cockpit/").text
    for name in ("tiers", "health", "renewals", "retention", "workload"):
        assert f'hx-get="/cockpit/panels/{name}/" hx-trigger="load"' in page
    assert page.count("<h1") == 1


def test_a_panel_without_htmx_is_a_whole_page(maya_client):
    response = maya_client.get("/cockpit/panels/tiers/")
    assert "<html" in response.text and "Tier distribution" in response.text
    fragment = _panel(maya_client, "tiers")
    assert "<html" not in fragment.text
    assert "HX-Request" in fragment["Vary"]


def test_unknown_panel_is_a_404(maya_client):
    assert _panel(maya_client, "nope").status_code == 404


def test_empty_book_panels_say_what_data_they_need(maya_client):
    expected = {
        "tiers": "the <code>accounts</code> import",
        "health": "needs daily health snapshots",
        "renewals": "needs contracts with their end dates",
        "retention": "Retention needs contracts",
        "workload": "The pooled queues are empty.",
    }
    for name, text in expected.items():
        assert text in _panel(maya_client, name).text, name


def test_bad_filters_are_named_and_defaults_used(maya_client):
    response = _panel(maya_client, "tiers", days="7\x00")
    assert response.status_code == 200
    assert "This filter could not be applied" in response.text
    response = _panel(maya_client, "retention", as_of="yesterday")
    assert response.status_code == 200
    assert "as_of must be a date in YYYY-MM-DD form" in response.text


def test_retention_panel_agrees_with_the_api(maya_client, maya_token, client, contract_cohort):
    api = client.get(
        "/api/v1/metrics/retention?as_of=2026-06-30", HTTP_AUTHORIZATION=f"Bearer {maya_token}"
    ).json()
    page = _panel(maya_client, "retention", as_of="2026-06-30").text
    assert f'data-testid="nrr-contract">{api["nrr"] * 100:.1f} %' in page  # 86.8 %
    assert f'data-testid="grr-contract">{api["grr"] * 100:.1f} %' in page  # 73.6 %
    assert 'data-testid="starting-arr">$265,000.00' in page
    assert 'data-testid="expansion">$35,000.50' in page
    assert 'data-testid="contraction">$19,999.75' in page
    assert 'data-testid="churn">$50,000.00' in page
    assert 'data-testid="ending-arr">$230,000.75' in page
    assert "SaaS Capital 2023" in page
    # The accounts behind each movement, linked to their pages.
    assert 'href="/accounts/churns/"' in page and 'href="/accounts/reactivates/"' in page
    assert "newlogo" not in page and "winback" not in page


def test_a_csm_sees_only_their_own_book(alice_client, contract_cohort):
    page = _panel(alice_client, "retention", as_of="2026-06-30").text
    assert 'data-testid="starting-arr">$230,000.00' in page
    assert "/accounts/reactivates/" not in page
    tiers = _panel(alice_client, "tiers").text
    assert "csm=me" in tiers and "csm=all" not in tiers
    for name in ("health", "renewals", "workload"):
        assert _panel(alice_client, name).status_code == 200, name


def test_tier_panel_counts_and_links(maya_client, alice, today):
    for tier, arr in [(1, "300000"), (2, "50000"), (2, "25000")]:
        ContractFactory(account=AccountFactory(tier=tier, csm=alice), arr=Decimal(arr))
    page = _panel(maya_client, "tiers").text
    assert (
        'href="/book/?tier=1&amp;csm=all" data-testid="tier-1">1 <small class="muted">· $300,000'
        in page
    )
    assert 'data-testid="tier-2">2 <small class="muted">· $75,000' in page
    assert 'data-testid="moves-new">0' in page  # started 100 days ago, outside 90 days
    assert 'data-testid="moves-new">3' in _panel(maya_client, "tiers", days="180").text


def test_tier_panel_counts_churned_logos_once_and_not_renewed_ones(maya_client, today):
    gone = AccountFactory(tier=3)  # two contracts, the last ended 20 days ago: churned
    ContractFactory(
        account=gone, start=today - timedelta(days=700), end=today - timedelta(days=336)
    )
    ContractFactory(account=gone, start=today - timedelta(days=335), end=today - timedelta(days=20))
    renewed = AccountFactory(tier=2)  # one term ended 10 days ago, the next is running
    ContractFactory(
        account=renewed, start=today - timedelta(days=375), end=today - timedelta(days=10)
    )
    ContractFactory(
        account=renewed, start=today - timedelta(days=9), end=today + timedelta(days=355)
    )
    old = AccountFactory(tier=3)  # ended 200 days ago: outside the 90 days
    ContractFactory(account=old, start=today - timedelta(days=565), end=today - timedelta(days=200))
    page = _panel(maya_client, "tiers").text
    assert 'data-testid="moves-churned">1<' in page
    assert 'data-testid="moves-new">0<' in page
    assert 'data-testid="moves-churned">2<' in _panel(maya_client, "tiers", days="365").text
    # ARR counts only contracts in force: the renewed account's new term.
    assert 'data-testid="tier-3">2 <small class="muted">· $0' in page


def test_health_panel_shares_and_movers(maya_client, alice, today):
    day = today - timedelta(days=1)
    accounts = [AccountFactory(csm=alice, name=f"H{i}") for i in range(4)]
    for a, arr in zip(accounts, ["100", "100", "100", "700"], strict=True):
        ContractFactory(account=a, arr=Decimal(arr))
    for a, band, score, before in zip(
        accounts,
        [Band.GREEN, Band.GREEN, Band.YELLOW, Band.RED],
        [80, 75, 50, 20],
        [70, 90, 50, 60],
        strict=True,
    ):
        HealthSnapshotFactory(account=a, date=day, band=band, score=score)
        HealthSnapshotFactory(account=a, date=day - timedelta(days=7), band=band, score=before)
    page = _panel(maya_client, "health").text
    assert 'data-testid="health-green">2' in page and 'data-testid="health-red">1' in page
    assert "chart-health-accounts" in page and "chart-health-arr" in page
    # red: 1 of 4 accounts (25 %) but 700 of 1,000 ARR (70 %)
    assert '"y": [25.0' in page and '"y": [70.0' in page
    drops = page.split("Biggest drops")[1].split("Biggest recoveries")[0]
    assert drops.index("H3") < drops.index("H1")  # -40 before -15


def test_a_csm_sees_their_own_renewals(alice_client, alice, bob, today):
    for owner, name in ((alice, "Mine"), (bob, "Theirs")):
        account = AccountFactory(csm=owner, name=name)
        ContractFactory(
            account=account, start=today - timedelta(days=300), end=today + timedelta(days=20)
        )
        HealthSnapshotFactory(account=account, date=today - timedelta(days=1))
    page = _panel(alice_client, "renewals").text
    assert 'data-testid="renewing-30">1 ' in page
    assert "Mine" in page and "Theirs" not in page


def test_renewals_panel_windows_and_rows(maya_client, alice, today):
    soon = AccountFactory(csm=alice, name="Soon")
    ContractFactory(account=soon, start=today - timedelta(days=300), end=today + timedelta(days=20))
    later = AccountFactory(csm=alice, name="Later")
    ContractFactory(
        account=later, start=today - timedelta(days=200), end=today + timedelta(days=150)
    )
    page = _panel(maya_client, "renewals").text
    assert 'data-testid="renewing-30">1 ' in page and 'data-testid="renewing-180">2 ' in page
    assert "renewal=30" in page
    assert "Soon" in page and "Later" not in page.split('data-testid="renewal-rows"')[1]
    assert "Later" in _panel(maya_client, "renewals", window="180").text


def test_free_plans_ending_are_counted_not_listed_as_renewals(maya_client, alice, today):
    paying = AccountFactory(csm=alice, name="Paying")
    ContractFactory(
        account=paying, start=today - timedelta(days=300), end=today + timedelta(days=20)
    )
    free = AccountFactory(name="Freebie", tier=3)
    ContractFactory(
        account=free, start=today - timedelta(days=300), end=today + timedelta(days=10), arr=0
    )
    page = _panel(maya_client, "renewals").text
    assert 'data-testid="renewing-30">1 <small class="muted">· $100,000' in page
    assert "Freebie" not in page
    assert "Not listed: 1 free plan (no ARR) also ends within 90 days" in page


def test_workload_counts_qbrs_due_and_tasks(maya_client, alice, today):
    t1_due = AccountFactory(tier=1, csm=alice)
    t1_done = AccountFactory(tier=1, csm=alice)
    TouchpointFactory(account=t1_done, kind=TouchpointKind.QBR, date=today - timedelta(days=30))
    t2_renewing = AccountFactory(tier=2, csm=alice)
    ContractFactory(
        account=t2_renewing, start=today - timedelta(days=300), end=today + timedelta(days=60)
    )
    TaskFactory(account=t1_due, owner=alice, due=today - timedelta(days=2))
    TaskFactory(account=t1_due, owner=alice, due=today + timedelta(days=2))
    TaskFactory(account=t1_due, owner=alice, due=today, status=TaskStatus.DONE)
    page = _panel(maya_client, "workload").text
    row = page.split("Alice Archer")[1].split("</tr>")[0]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in row.split("</td>")[:-1]]
    # tier 1, 2, 3, accounts, ARR, not green, open, overdue, QBRs due
    assert cells[1:4] == ["2", "1", "0"]
    assert cells[-3:] == ["2", "1", "2"]


def test_health_series_is_cached_until_the_newest_day_is_rescored(alice, today):
    from cockpit.selectors import health_panel

    day = today - timedelta(days=1)
    a, b = AccountFactory(csm=alice), AccountFactory(csm=alice)
    HealthSnapshotFactory(account=a, date=day, band=Band.GREEN)
    old = HealthSnapshotFactory(account=b, date=day - timedelta(days=3), band=Band.RED)
    HealthSnapshotFactory(account=b, date=day, band=Band.GREEN)

    def red_share():
        panel = health_panel(account_ids=None, on=today, tier=None, csm_id=None)
        return panel.accounts["red"][0], panel.today_counts

    assert red_share() == (100.0, {"green": 2, "yellow": 0, "red": 0})
    old.band = Band.YELLOW  # an old day rescored: the cached series stands (ten minutes)
    old.save()
    assert red_share()[0] == 100.0
    HealthSnapshotFactory(account=AccountFactory(), date=day, band=Band.RED)  # the newest day
    assert red_share() == (0.0, {"green": 2, "yellow": 0, "red": 1})


def test_consumption_figures_agree_with_the_api_for_a_csm(
    alice_client, alice_token, client, consumption_cohort
):
    api = client.get(
        "/api/v1/metrics/retention?as_of=2026-06-30&basis=consumption",
        HTTP_AUTHORIZATION=f"Bearer {alice_token}",
    ).json()
    # Alice's book: metered 50,000 → 80,000 and uncommitted 3,000 → 1,000.50
    assert (api["starting_arr"], api["ending_arr"]) == (53000.0, 81000.5)
    page = _panel(alice_client, "retention", as_of="2026-06-30").text
    assert f'data-testid="nrr-consumption">{api["nrr"] * 100:.1f} %' in page  # 152.8 %
    assert f'data-testid="grr-consumption">{api["grr"] * 100:.1f} %' in page  # 96.2 %


def test_tier_moves_count_promotions_and_relegations(maya_client, maya, today):
    from tests.factories import TierChangeFactory

    a = AccountFactory(tier=1)
    TierChangeFactory(account=a, from_tier=2, to_tier=1, changed_by=maya)
    TierChangeFactory(account=a, from_tier=3, to_tier=2, changed_by=maya)
    TierChangeFactory(account=AccountFactory(tier=3), from_tier=2, to_tier=3, changed_by=maya)
    TierChangeFactory(account=AccountFactory(tier=2), from_tier=None, to_tier=2)  # an import
    page = _panel(maya_client, "tiers").text
    assert 'data-testid="moves-promotions"><a href="/tiers/queue/?direction=promote">2<' in page
    assert 'data-testid="moves-relegations"><a href="/tiers/queue/?direction=relegate">1<' in page


def test_the_bridge_shows_both_bases(maya_client, contract_cohort, consumption_cohort):
    page = _panel(maya_client, "retention", as_of="2026-06-30").text
    # Consumption: 83,000 → 96,000.50 over the consumption cohort (see conftest).
    assert 'data-testid="ending-consumption">$96,000.50' in page
    assert "9 on consumption" not in page and "4 on consumption" in page


def test_someone_without_a_book_is_told_why_the_panels_are_empty(pat_client, acme):
    page = pat_client.get("/cockpit/").text
    assert "You are the CSM of no account" in page
    assert 'data-testid="tier-1"' not in _panel(pat_client, "tiers").text


def test_warming_fills_the_panels_a_manager_and_each_csm_open_next(
    maya_client, alice, today, monkeypatch
):
    from cockpit import selectors

    day = today - timedelta(days=1)
    for band in (Band.GREEN, Band.RED):
        account = AccountFactory(csm=alice)
        ContractFactory(account=account, arr=Decimal("1000"))
        HealthSnapshotFactory(account=account, date=day, band=band)
    assert selectors.panels_warm(on=today) == 2  # the whole book, and Alice's

    def computed_again(**kwargs):
        raise AssertionError("a warmed panel was computed again")

    monkeypatch.setattr(selectors, "band_series", computed_again)
    monkeypatch.setattr(selectors, "_retention_panel", computed_again)
    page = _panel(maya_client, "health").text
    assert 'data-testid="health-red">1<' in page and 'data-testid="health-green">1<' in page
    assert "NRR" in _panel(maya_client, "retention").text


def test_a_live_recompute_queues_the_warm_up_only_with_a_worker(
    today, django_capture_on_commit_callbacks, monkeypatch
):
    from django.core.cache import cache

    from cockpit import tasks

    cache.delete(tasks.WARM_PENDING_KEY)
    queued = []
    monkeypatch.setattr(tasks.warm_cockpit, "apply_async", lambda **kw: queued.append(kw))
    monkeypatch.setitem(tasks.warm_cockpit.app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.warm_after_recompute(as_of=today - timedelta(days=1), account_ids=None)
    assert queued == []  # inline: nothing queued, nobody would run it apart from the request
    monkeypatch.setitem(tasks.warm_cockpit.app.conf, "task_always_eager", False)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.warm_after_recompute(as_of=today - timedelta(days=30), account_ids=None)
    assert queued == []  # a backfill of history changes nothing the cockpit shows today
    with django_capture_on_commit_callbacks(execute=True):
        tasks.warm_after_recompute(as_of=today - timedelta(days=1), account_ids=None)
    assert queued == [{"expires": tasks.WARM_TASK_EXPIRES}]
    # A burst of recomputes while it waits queues no second one; once it runs, the next does.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.warm_after_recompute(as_of=today - timedelta(days=1), account_ids=[1])
    assert len(queued) == 1
    tasks.warm_cockpit()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.warm_after_recompute(as_of=today - timedelta(days=1), account_ids=[1])
    assert len(queued) == 2
