"""Dynamic tiering (playbooks/tiering/): each suggestion rule with its evidence, one pending
suggestion per account, the dismissal quiet period, approve/dismiss by managers only, and the
tier queue page."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, ContactRole, TierChange
from accounts.services import tier_change
from health.services import last_complete_day
from playbooks.models import Alert, AlertKind, SuggestionStatus, TierSuggestion
from playbooks.tiering import services as tiering
from playbooks.tiering.rules import evidence_lines
from tests.conftest import table_rows
from tests.factories import AccountFactory, ContactFactory, ContractFactory
from tests.playbooks.success_helpers import snapshot, usage

pytestmark = pytest.mark.django_db
D = last_complete_day()


def account(tier: int, *, arr: int = 10_000, seats=None, **kw) -> Account:
    a = AccountFactory(tier=tier, seats=seats, **kw)
    ContractFactory(account=a, arr=Decimal(arr), start=D - timedelta(days=100))
    return a


def refresh(*accounts) -> list[TierSuggestion]:
    return tiering.tier_suggestions_refresh(as_of=D, account_ids=[a.pk for a in accounts])


def pending(a: Account) -> TierSuggestion:
    return TierSuggestion.objects.get(account=a, status="pending")


# --- tier 3 → 2 -------------------------------------------------------------------------------


def test_tier3_usage_spike_is_a_product_qualified_signal():
    a = account(3)
    snapshot(a, D, facts={"spike_ratio": 7.31, "units_7": 3003.3, "prior_daily_avg": 58.7})

    [s] = refresh(a)

    s = pending(a)
    assert (s.from_tier, s.to_tier) == (3, 2)
    assert s.reason == (
        "Promote to tier 2: usage 7.3× its prior daily average (product-qualified signal)"
    )
    assert s.evidence == {
        "arr": 10000.0,
        "spike_ratio": 7.31,
        "units_7": 3003.3,
        "prior_daily_avg": 58.7,
        "as_of": D.isoformat(),
    }
    assert evidence_lines(s.evidence) == [
        ("ARR", "$10,000"),
        ("Spike", "7.3×"),
        ("Units, last 7 days", "3,003"),
        ("Prior daily average", "59 units"),
        ("As of", D.isoformat()),
    ]


def test_tier3_spike_without_a_real_baseline_or_below_5x_suggests_nothing():
    no_baseline, small = account(3), account(3)
    snapshot(no_baseline, D, facts={"spike_ratio": None, "units_7": 5000})
    snapshot(small, D, facts={"spike_ratio": 4.9})
    assert refresh(no_baseline, small) == []


def test_tier3_recent_usage_spike_alert_still_qualifies():
    a = account(3)
    snapshot(a, D, facts={"spike_ratio": 2.0})
    Alert.objects.create(
        account=a,
        kind=AlertKind.USAGE_SPIKE,
        key="k",
        as_of=D - timedelta(5),
        title="spike",
        detail="spike",
    )
    old = account(3)
    snapshot(old, D, facts={"spike_ratio": 2.0})
    Alert.objects.create(
        account=old,
        kind=AlertKind.USAGE_SPIKE,
        key="k",
        as_of=D - timedelta(days=31),
        title="spike",
        detail="spike",
    )

    refresh(a, old)

    assert pending(a).evidence["usage_spike_alert"] is True
    assert "usage spike alert in the last 30 days" in pending(a).reason
    assert not TierSuggestion.objects.filter(account=old).exists()


def test_tier3_arr_over_the_threshold(settings):
    settings.TIER3_PROMOTE_ARR = 30000
    over, at = account(3, arr=42_000), account(3, arr=30_000)
    snapshot(over, D)
    snapshot(at, D)

    refresh(over, at)

    s = pending(over)
    assert s.reason == "Promote to tier 2: ARR $42,000 over the $30,000 digital-tier ceiling"
    assert s.evidence == {"arr": 42000.0, "arr_threshold": 30000, "as_of": D.isoformat()}
    assert not TierSuggestion.objects.filter(account=at).exists()


# --- tier 2 → 1 -------------------------------------------------------------------------------


def test_tier2_arr_over_the_threshold(settings):
    settings.TIER2_PROMOTE_ARR = 250000
    a = account(2, arr=300_000)
    snapshot(a, D)

    refresh(a)

    s = pending(a)
    assert (s.from_tier, s.to_tier) == (2, 1)
    assert s.reason == "Promote to tier 1: ARR $300,000 over the $250,000 scaled-tier ceiling"


def _commit_facts(share: float, start: date, end: date) -> dict:
    return {
        "consumed_share": share,
        "consumed": share * 1_000_000,
        "commit": 1_000_000,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
    }


def test_tier2_commit_ceiling_needs_a_quarter_of_the_period_left():
    early, late, light = account(2), account(2), account(2)
    # 100 of 365 days gone (72% left) / 300 days gone (18% left) / only 60% consumed
    snapshot(early, D, facts=_commit_facts(0.92, D - timedelta(days=100), D + timedelta(days=264)))
    snapshot(late, D, facts=_commit_facts(0.95, D - timedelta(days=300), D + timedelta(days=64)))
    snapshot(light, D, facts=_commit_facts(0.6, D - timedelta(days=100), D + timedelta(days=264)))

    refresh(early, late, light)

    s = pending(early)
    assert s.reason == "Promote to tier 1: 92% of the commit consumed with 72% of the period left"
    assert s.evidence["consumed_share"] == 0.92
    assert s.evidence["period_left"] == 0.723
    assert s.evidence["commit"] == 1_000_000
    assert not TierSuggestion.objects.filter(account__in=[late, light]).exists()


def test_tier2_seat_ceiling_needs_full_seats_on_seven_days():
    full, busy_day = account(2, seats=6), account(2, seats=6)
    for a, days in ((full, 7), (busy_day, 6)):
        snapshot(a, D)
        for n in range(20):
            usage(a, D - timedelta(days=n), "active_users", 6 if n < days else 3)
    usage(full, D - timedelta(days=40), "active_users", 9)  # outside the 28 days

    refresh(full, busy_day)

    s = pending(full)
    assert s.reason == "Promote to tier 1: every one of 6 seats in use on 7 of the last 28 days"
    assert (s.evidence["active_users"], s.evidence["seats"], s.evidence["seats_full_days"]) == (
        6.0,
        6,
        7,
    )
    assert not TierSuggestion.objects.filter(account=busy_day).exists()


# --- tier 1 → 2 -------------------------------------------------------------------------------


def test_tier1_flat_usage_without_exec_engagement_is_suggested_for_relegation():
    a = account(1, arr=400_000)
    snapshot(a, D, facts={"trend_ratio": 0.98})
    ContactFactory(account=a, role=ContactRole.EXEC_SPONSOR, last_engaged=D - timedelta(days=120))

    refresh(a)

    s = pending(a)
    assert (s.from_tier, s.to_tier) == (1, 2)
    assert s.reason == (
        "Relegate to tier 2: usage flat or falling (0.98× the prior 28 days) "
        "and no exec sponsor engaged in 90 days"
    )
    assert s.evidence == {
        "arr": 400000.0,
        "trend_ratio": 0.98,
        "exec_engaged_90d": False,
        "as_of": D.isoformat(),
    }


def test_tier1_growing_or_engaged_stays():
    growing, engaged, left = account(1), account(1), account(1)
    snapshot(growing, D, facts={"trend_ratio": 1.2})
    snapshot(engaged, D, facts={"trend_ratio": 1.0})
    ContactFactory(
        account=engaged, role=ContactRole.EXEC_SPONSOR, last_engaged=D - timedelta(days=30)
    )
    # An exec who engaged recently but has since left does not count.
    snapshot(left, D, facts={"trend_ratio": 1.0})
    ContactFactory(
        account=left,
        role=ContactRole.EXEC_SPONSOR,
        last_engaged=D - timedelta(days=30),
        left=D - timedelta(days=2),
    )

    refresh(growing, engaged, left)

    assert list(TierSuggestion.objects.values_list("account_id", flat=True)) == [left.pk]


# --- lifecycle --------------------------------------------------------------------------------


def test_one_pending_suggestion_per_account_refreshed_with_todays_numbers():
    a = account(3)
    snapshot(a, D, facts={"spike_ratio": 6.0})
    assert len(refresh(a)) == 1
    snapshot(a, D, facts={"spike_ratio": 8.5})

    assert refresh(a) == []

    [s] = TierSuggestion.objects.filter(account=a)
    assert s.evidence["spike_ratio"] == 8.5
    assert "8.5×" in s.reason


def test_a_dismissed_move_stays_quiet_for_30_days(maya):
    a = account(3)
    snapshot(a, D, facts={"spike_ratio": 6.0})
    refresh(a)
    tiering.tier_suggestion_dismiss(suggestion=pending(a), user=maya)

    assert refresh(a) == []
    TierSuggestion.objects.filter(account=a).update(decided_at=timezone.now() - timedelta(days=31))
    assert len(refresh(a)) == 1
    assert TierSuggestion.objects.filter(account=a).count() == 2


def test_a_manual_tier_change_withdraws_the_pending_suggestion(maya):
    a = account(3)
    snapshot(a, D, facts={"spike_ratio": 6.0})
    refresh(a)
    tier_change(account=a, to_tier=2, reason="Signed a bigger deal", changed_by=maya)

    refresh(a)

    assert not TierSuggestion.objects.filter(account=a).exists()


def test_a_recent_move_is_not_suggested_back(maya, settings):
    settings.TIER2_PROMOTE_ARR = 250000
    a = account(1, arr=900_000)
    snapshot(a, D, facts={"trend_ratio": 1.0})
    refresh(a)
    tiering.tier_suggestion_approve(suggestion=pending(a), user=maya)
    a.refresh_from_db()
    assert a.tier == 2

    assert refresh(a) == []  # the ARR rule would promote it straight back
    TierChange.objects.filter(account=a).update(changed_at=timezone.now() - timedelta(days=91))
    assert [(s.from_tier, s.to_tier) for s in refresh(a)] == [(2, 1)]


def test_backfills_of_past_days_suggest_nothing():
    a = account(3)
    snapshot(a, D - timedelta(days=5), facts={"spike_ratio": 9.0})
    assert tiering.tier_suggestions_refresh(as_of=D - timedelta(days=5)) == []
    assert not TierSuggestion.objects.exists()


def test_refresh_is_set_based_a_fixed_number_of_queries():
    def run(n: int) -> int:
        TierSuggestion.objects.all().delete()
        for i in range(n):
            t = (1, 2, 3)[i % 3]
            a = account(t, seats=5 if t == 2 else None)
            snapshot(a, D, facts={"spike_ratio": 6.0, "trend_ratio": 1.0})
            usage(a, D, "active_users", 5)
        with CaptureQueriesContext(connection) as ctx:
            tiering.tier_suggestions_refresh(as_of=D)
        return len(ctx.captured_queries)

    assert run(3) == run(15) <= 10


# --- approve / dismiss ------------------------------------------------------------------------


@pytest.fixture
def spike(alice):
    a = account(3, csm=alice, external_id="orbit", name="Orbitmoth Works")
    snapshot(a, D, facts={"spike_ratio": 7.3, "units_7": 3003.3, "prior_daily_avg": 58.7})
    refresh(a)
    return pending(a)


def test_manager_approves_tier_changes_and_history_is_written(spike, maya):
    s = tiering.tier_suggestion_approve(suggestion=spike, user=maya, note="Call booked")

    assert (s.status, s.decided_by) == ("approved", maya)
    assert s.decided_at is not None
    a = Account.objects.get(pk=spike.account_id)
    assert a.tier == 2
    [change] = TierChange.objects.filter(account=a)
    assert (change.from_tier, change.to_tier, change.changed_by) == (3, 2, maya)
    assert change.reason == (
        "Approved suggestion: Promote to tier 2: usage 7.3× its prior daily average "
        "(product-qualified signal). Evidence: ARR $10,000; Spike 7.3×; Units, last 7 days "
        "3,003; Prior daily average 59 units. Note: Call booked"
    )

    with pytest.raises(ValidationError, match="already approved"):
        tiering.tier_suggestion_approve(suggestion=spike, user=maya)
    assert TierChange.objects.filter(account=a).count() == 1


def test_approving_a_stale_suggestion_is_refused(spike, maya):
    Account.objects.filter(pk=spike.account_id).update(tier=1)
    with pytest.raises(ValidationError, match="is tier 1 now, not tier 3"):
        tiering.tier_suggestion_approve(suggestion=spike, user=maya)
    assert not TierChange.objects.exists()
    assert pending(spike.account).pk == spike.pk


def test_a_csm_cannot_approve_or_dismiss(spike, alice):
    before = table_rows()
    with pytest.raises(PermissionDenied):
        tiering.tier_suggestion_approve(suggestion=spike, user=alice)
    with pytest.raises(PermissionDenied):
        tiering.tier_suggestion_dismiss(suggestion=spike, user=alice)
    assert table_rows() == before


def test_dismiss_keeps_the_tier(spike, maya):
    s = tiering.tier_suggestion_dismiss(suggestion=spike, user=maya)
    assert (s.status, s.decided_by) == (SuggestionStatus.DISMISSED, maya)
    assert Account.objects.get(pk=spike.account_id).tier == 3
    assert not TierChange.objects.exists()
    with pytest.raises(ValidationError, match="already dismissed"):
        tiering.tier_suggestion_dismiss(suggestion=spike, user=maya)


# --- the queue page ---------------------------------------------------------------------------


def test_queue_lists_pending_with_evidence_and_inline_buttons_for_managers(spike, maya_client):
    response = maya_client.get("/tiers/queue/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Orbitmoth Works" in body
    assert "usage 7.3× its prior daily average" in body
    assert "<dt>Prior daily average</dt><dd>59 units</dd>" in body
    assert f'hx-post="/tiers/suggestions/{spike.pk}/approve"' in body
    assert f'hx-post="/tiers/suggestions/{spike.pk}/dismiss"' in body
    assert 'data-testid="ttv-medians"' in body


def test_queue_is_read_only_for_csms(spike, alice_client):
    body = alice_client.get("/tiers/queue/").content.decode()
    assert "Orbitmoth Works" in body
    assert "awaiting a manager" in body
    assert "/approve" not in body


def test_htmx_approve_swaps_the_row(spike, maya_client):
    url = f"/tiers/suggestions/{spike.pk}/approve"
    response = maya_client.post(url, headers={"HX-Request": "true"})

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="suggestion-{spike.pk}"')
    assert 'data-testid="decision">Approved' in body
    assert "Orbitmoth Works is tier 2 now" in body
    assert Account.objects.get(pk=spike.account_id).tier == 2

    again = maya_client.post(url, headers={"HX-Request": "true"})
    assert again.status_code == 409
    assert "This suggestion was already approved." in again.content.decode()
    assert TierChange.objects.count() == 1


def test_plain_dismiss_redirects_to_the_queue(spike, maya_client):
    response = maya_client.post(f"/tiers/suggestions/{spike.pk}/dismiss")
    assert (response.status_code, response["Location"]) == (302, "/tiers/queue/")
    spike.refresh_from_db()
    assert spike.status == "dismissed"
    body = maya_client.get("/tiers/queue/").content.decode()
    assert "Recently decided" in body and "Dismissed" in body


def test_csm_posting_approve_is_403_and_nothing_changes(spike, alice_client, pat_client):
    before = table_rows()
    for client in (alice_client, pat_client):
        assert client.post(f"/tiers/suggestions/{spike.pk}/approve").status_code == 403
        assert (
            client.post(
                f"/tiers/suggestions/{spike.pk}/dismiss", headers={"HX-Request": "true"}
            ).status_code
            == 403
        )
    assert table_rows() == before


def test_queue_bad_filter_is_400_with_a_message_and_empty_state(maya_client):
    response = maya_client.get("/tiers/queue/?direction=sideways")
    assert response.status_code == 400
    assert "direction must be &#x27;promote&#x27; or &#x27;relegate&#x27;" in (
        response.content.decode()
    )
    body = maya_client.get("/tiers/queue/?direction=relegate").content.decode()
    assert "Nothing to decide: no relegations pending" in body
    assert maya_client.post("/tiers/suggestions/999999/approve").status_code == 404


def test_queue_direction_filter(spike, maya_client):
    relegate = account(1)
    snapshot(relegate, D, facts={"trend_ratio": 1.0})
    refresh(relegate)

    promote = maya_client.get("/tiers/queue/?direction=promote").content.decode()
    assert "Orbitmoth Works" in promote and relegate.name not in promote
    down = maya_client.get("/tiers/queue/?direction=relegate").content.decode()
    assert relegate.name in down and "Orbitmoth Works" not in down
