"""The alert lifecycle (playbooks/alerts/services.py): acknowledge, snooze and its expiry, reopen;
automatic resolution of each kind with the reason a CSM reads; reopening when a resolved
crossing holds again; and what happens to the plays an alert started.

Alerts are raised by alerts_raise from hand-made snapshots on the day before the live day, then
the live day's snapshot decides whether the condition still holds.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health.services import last_complete_day
from playbooks.alerts.services import (
    alert_acknowledge,
    alert_reopen,
    alert_snooze,
    alerts_raise,
    alerts_resolve,
    alerts_wake_snoozed,
)
from playbooks.hooks import after_recompute
from playbooks.models import Alert, AlertKind, Milestone, Play, Task
from playbooks.plays import services as plays
from playbooks.plays.selectors import work_view, workload
from tests.conftest import table_rows
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks.alert_helpers import make_alert, snapshot

D = last_complete_day()
TODAY = date.today()


def day(n: int) -> date:
    return D - timedelta(days=n)


COASTING = {"key": "coasting", "detail": "relationship 85, pace 40%", "cap_band": "red"}


def raised(account, kind: str) -> Alert:
    return Alert.objects.get(account=account, kind=kind)


# --- acknowledge ------------------------------------------------------------------------------


def test_the_owner_acknowledges_an_alert_and_it_reads_as_read(acme, alice):
    alert = make_alert(acme)

    assert alert_acknowledge(alert=alert, user=alice) is True

    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_by == alice
    assert alert.acknowledged_at is not None
    assert alert.read_at is not None
    assert alert_acknowledge(alert=alert, user=alice) is False  # already: nothing changes


def test_another_csm_or_a_product_user_cannot_acknowledge(acme, bob, pat):
    alert = make_alert(acme)
    before = table_rows()

    for user in (bob, pat):
        with pytest.raises(PermissionDenied, match="belongs to another CSM"):
            alert_acknowledge(alert=alert, user=user)

    assert table_rows() == before


def test_any_csm_acknowledges_a_pooled_alert_and_a_manager_any(bob, maya, acme):
    pooled = make_alert(AccountFactory(tier=3), key="p", owner=None)
    alices = make_alert(acme, key="a")

    assert alert_acknowledge(alert=pooled, user=bob) is True
    assert alert_acknowledge(alert=alices, user=maya) is True
    assert set(Alert.objects.values_list("status", flat=True)) == {"acknowledged"}


def test_a_resolved_alert_cannot_be_acknowledged_or_snoozed(acme, alice):
    alert = make_alert(acme)
    Alert.objects.filter(pk=alert.pk).update(
        status="resolved", resolved_reason="band back to green (score 74)"
    )

    with pytest.raises(ValidationError) as exc:
        alert_acknowledge(alert=alert, user=alice)
    assert exc.value.messages == [
        "This alert is already resolved (band back to green (score 74)); "
        "there is nothing left to acknowledge."
    ]
    with pytest.raises(ValidationError):
        alert_snooze(alert=alert, user=alice, until=TODAY + timedelta(days=3))
    assert Alert.objects.get(pk=alert.pk).status == "resolved"


# --- snooze -----------------------------------------------------------------------------------


def test_snoozing_puts_the_alert_away_until_a_day(acme, alice):
    alert = make_alert(acme)
    until = TODAY + timedelta(days=3)

    assert alert_snooze(alert=alert, user=alice, until=until) is True

    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until, alert.snoozed_by) == ("snoozed", until, alice)
    assert alert.read_at is not None
    assert alert.status_on(TODAY) == "snoozed"
    assert alert.status_on(until - timedelta(days=1)) == "snoozed"
    assert alert.status_on(until) == "open"  # from that day on it reads as open


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (TODAY, f"Snooze until a day after today ({TODAY.isoformat()})."),
        (TODAY - timedelta(days=2), f"Snooze until a day after today ({TODAY.isoformat()})."),
        (
            TODAY + timedelta(days=91),
            f"Snooze for at most 90 days (until {(TODAY + timedelta(days=90)).isoformat()}).",
        ),
    ],
)
def test_a_snooze_must_end_tomorrow_or_within_90_days(acme, alice, until, message):
    alert = make_alert(acme)

    with pytest.raises(ValidationError) as exc:
        alert_snooze(alert=alert, user=alice, until=until)

    assert exc.value.messages == [message]
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_an_expired_snooze_flips_back_to_open_and_unread_in_the_resolve_pass(acme, alice):
    alert = make_alert(acme)
    alert_snooze(alert=alert, user=alice, until=TODAY + timedelta(days=1))
    Alert.objects.filter(pk=alert.pk).update(snoozed_until=TODAY)  # the day has come
    still = make_alert(acme, key="later")
    alert_snooze(alert=still, user=alice, until=TODAY + timedelta(days=7))
    snapshot(acme, D, 32, "red")  # the band change still holds

    assert alerts_resolve(as_of=D) == 0

    alert.refresh_from_db()
    assert (alert.status, alert.read_at) == ("open", None)
    assert alert.snoozed_until == TODAY  # the row remembers it came back from a snooze
    assert Alert.objects.get(pk=still.pk).status == "snoozed"
    assert alerts_wake_snoozed(on=TODAY) == 0


def test_reopen_undoes_an_acknowledgement_or_a_snooze(acme, alice):
    acked, snoozed = make_alert(acme, key="a"), make_alert(acme, key="s")
    alert_acknowledge(alert=acked, user=alice)
    alert_snooze(alert=snoozed, user=alice, until=TODAY + timedelta(days=7))

    assert alert_reopen(alert=acked, user=alice) is True
    assert alert_reopen(alert=snoozed, user=alice) is True
    assert alert_reopen(alert=snoozed, user=alice) is False

    for alert in (acked, snoozed):
        alert.refresh_from_db()
        assert (alert.status, alert.acknowledged_by, alert.snoozed_until) == ("open", None, None)


def test_acknowledging_a_snoozed_alert_ends_the_snooze(acme, alice):
    alert = make_alert(acme)
    alert_snooze(alert=alert, user=alice, until=TODAY + timedelta(days=7))

    alert_acknowledge(alert=alert, user=alice)

    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until, alert.acknowledged_by) == (
        "acknowledged",
        None,
        alice,
    )


# --- automatic resolution, kind by kind --------------------------------------------------------


def resolution(alert: Alert) -> tuple[str, str, date | None]:
    alert.refresh_from_db()
    return alert.status, alert.resolved_reason, alert.resolved_as_of


def test_band_change_resolves_when_the_band_moves_back(acme):
    snapshot(acme, day(2), 75, "green")
    snapshot(acme, day(1), 55, "yellow")
    [alert] = alerts_raise(as_of=day(1))
    snapshot(acme, D, 74, "green")

    assert alerts_resolve(as_of=D) == 1

    assert resolution(alert) == ("resolved", "band back to green (score 74)", D)
    assert alert.resolved_at is not None


def test_resolving_drops_the_deliveries_that_have_not_gone_out(acme):
    from playbooks.models import AlertDelivery

    alert = make_alert(acme, as_of=day(1))
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(alert=alert, channel="inbox", status="sent", attempts=1),
            AlertDelivery(alert=alert, channel="slack", status="retrying", attempts=2),
            AlertDelivery(alert=alert, channel="email", status="pending"),
        ]
    )
    snapshot(acme, D, 75, "green")

    alerts_resolve(as_of=D)

    assert sorted(
        AlertDelivery.objects.filter(alert=alert).values_list("channel", "status", "last_error")
    ) == [
        ("email", "dropped", "Condition cleared before sending"),
        ("inbox", "sent", ""),
        ("slack", "dropped", "Condition cleared before sending"),
    ]


def test_band_change_resolves_when_the_band_moves_on(acme):
    snapshot(acme, day(2), 75, "green")
    snapshot(acme, day(1), 55, "yellow")
    [alert] = alerts_raise(as_of=day(1))
    snapshot(acme, D, 30, "red")

    alerts_resolve(as_of=D)

    assert resolution(alert) == ("resolved", "band now red (score 30)", D)


def test_band_change_holds_while_the_band_stays(acme):
    snapshot(acme, day(2), 75, "green")
    snapshot(acme, day(1), 55, "yellow")
    [alert] = alerts_raise(as_of=day(1))
    snapshot(acme, D, 60, "yellow")

    assert alerts_resolve(as_of=D) == 0
    assert resolution(alert) == ("open", "", None)


def test_override_resolves_when_it_no_longer_fires(acme):
    snapshot(acme, day(2), 35, "red")
    snapshot(acme, day(1), 35, "red", overrides=[COASTING])
    [alert] = alerts_raise(as_of=day(1))
    assert alert.title == "Acme Analytics: coasting override fired (health capped at red)"
    snapshot(acme, D, 35, "red", overrides=[])

    alerts_resolve(as_of=D)

    assert resolution(alert) == ("resolved", "override coasting no longer fires", D)


def test_override_holds_while_it_fires(acme):
    snapshot(acme, day(2), 35, "red")
    snapshot(acme, day(1), 35, "red", overrides=[COASTING])
    [alert] = alerts_raise(as_of=day(1))
    snapshot(acme, D, 30, "red", overrides=[COASTING])

    alerts_resolve(as_of=D)

    assert resolution(alert)[0] == "open"


@pytest.mark.parametrize(
    ("score_today", "expected"),
    [
        (66, ("resolved", "score back to 66 (80 before the drop)")),
        (65, ("open", "")),  # still 15 under
    ],
)
def test_score_drop_resolves_once_less_than_15_under_the_pre_drop_score(
    acme, score_today, expected
):
    for n, score in {9: 80, 8: 80, 2: 79, 1: 62}.items():
        snapshot(acme, day(n), score, "green" if score >= 70 else "yellow")
    [alert] = [a for a in alerts_raise(as_of=day(1)) if a.kind == "score_drop"]
    snapshot(acme, D, score_today, "yellow")

    alerts_resolve(as_of=D)

    assert resolution(alert)[:2] == expected


@pytest.fixture
def renewing(acme):
    """Acme renews in 45 days (from the live day) and is yellow: a renewal_risk alert."""
    renewal = D + timedelta(days=45)
    ContractFactory(
        account=acme, start=renewal - timedelta(days=364), end=renewal, arr=Decimal("120000")
    )
    snapshot(acme, day(2), 50, "yellow")
    snapshot(acme, day(1), 50, "yellow")
    [alert] = alerts_raise(as_of=day(1))
    assert alert.title == "Acme Analytics renews in 46 days while yellow"
    return alert


def test_renewal_risk_resolves_when_the_renewal_is_signed(acme, renewing):
    renewal = D + timedelta(days=45)
    ContractFactory(
        account=acme, start=renewal + timedelta(days=1), end=date(renewal.year + 2, 12, 31)
    )
    snapshot(acme, D, 50, "yellow")

    alerts_resolve(as_of=D)

    assert resolution(renewing) == (
        "resolved",
        f"renewal signed: contract now ends {renewal.year + 2}-12-31",
        D,
    )
    assert alerts_raise(as_of=D) == []  # a signed renewal is not at risk
    assert resolution(renewing)[0] == "resolved"


def test_renewal_risk_resolves_when_the_band_turns_green(acme, renewing):
    snapshot(acme, D, 74, "green")

    alerts_resolve(as_of=D)

    assert resolution(renewing) == ("resolved", "band back to green (score 74)", D)


def test_renewal_risk_holds_while_unsigned_and_not_green(acme, renewing):
    snapshot(acme, D, 30, "red")

    alerts_resolve(as_of=D)

    assert resolution(renewing)[0] == "open"


def test_onboarding_overdue_resolves_when_the_milestone_is_completed(acme):
    milestone = Milestone.objects.create(account=acme, key="first_query", due=day(5))
    snapshot(acme, day(2), 75, "green")
    snapshot(acme, day(1), 75, "green")
    [alert] = alerts_raise(as_of=day(1))
    snapshot(acme, D, 75, "green")
    assert alerts_resolve(as_of=D) == 0  # still not done

    milestone.completed_on = D
    milestone.save()
    alerts_resolve(as_of=D)

    assert resolution(alert) == ("resolved", f"milestone completed on {D.isoformat()}", D)


def commit(share: float, period_start: str = "2026-01-01") -> dict:
    return {
        "consumed_share": share,
        "consumed": 100000 * share,
        "commit": 100000.0,
        "period_start": period_start,
        "period_end": "2026-12-31",
    }


@pytest.fixture
def seventy(acme):
    snapshot(acme, day(2), 75, "green", facts=commit(0.65))
    snapshot(acme, day(1), 75, "green", facts=commit(0.74))
    [alert] = alerts_raise(as_of=day(1))
    assert alert.title == "Acme Analytics crossed 70% of its commit (74% used)"
    return alert


def test_commit_threshold_resolves_when_the_period_ends(acme, seventy):
    snapshot(acme, D, 75, "green", facts=commit(0.01, "2027-01-01"))

    alerts_resolve(as_of=D)

    assert resolution(seventy) == ("resolved", "commit period ended", D)


def test_commit_threshold_resolves_when_the_share_falls_back(acme, seventy):
    snapshot(acme, D, 75, "green", facts=commit(0.62))  # the commit was raised mid-period

    alerts_resolve(as_of=D)

    assert resolution(seventy) == ("resolved", "commit use back under 70% (62% used)", D)


def test_commit_threshold_holds_in_the_same_period_above_it(acme, seventy):
    snapshot(acme, D, 75, "green", facts=commit(0.78))

    alerts_resolve(as_of=D)

    assert resolution(seventy)[0] == "open"


def test_usage_spike_resolves_when_usage_is_back_under_5x(db):
    digital = AccountFactory(external_id="dig", name="Digital Dev", tier=3)
    facts = {"units_7": 42000.0, "prior_daily_avg": 1000.0}
    snapshot(digital, day(2), 80, "green", facts={**facts, "spike_ratio": 2.0})
    snapshot(digital, day(1), 80, "green", facts={**facts, "spike_ratio": 6.0})
    [alert] = alerts_raise(as_of=day(1))
    snapshot(digital, D, 80, "green", facts={**facts, "spike_ratio": 1.2})

    alerts_resolve(as_of=D)

    assert resolution(alert) == ("resolved", "usage back to 1.2× normal", D)


# --- what the pass leaves alone -----------------------------------------------------------------


def test_an_account_without_a_snapshot_that_day_is_left_alone(acme):
    snapshot(acme, day(2), 75, "green")
    snapshot(acme, day(1), 55, "yellow")
    [alert] = alerts_raise(as_of=day(1))

    assert alerts_resolve(as_of=D) == 0
    assert resolution(alert) == ("open", "", None)


def test_resolving_is_idempotent(acme):
    snapshot(acme, day(2), 75, "green")
    snapshot(acme, day(1), 55, "yellow")
    [alert] = alerts_raise(as_of=day(1))
    snapshot(acme, D, 74, "green")
    alerts_resolve(as_of=D)
    first = Alert.objects.get(pk=alert.pk)

    assert alerts_resolve(as_of=D) == 0
    assert Alert.objects.get(pk=alert.pk).resolved_at == first.resolved_at


def test_a_past_day_resolves_nothing(acme):
    alert = make_alert(acme, as_of=day(10))
    snapshot(acme, day(5), 75, "green")

    assert alerts_resolve(as_of=day(5)) == 0
    assert resolution(alert)[0] == "open"


def test_an_alert_of_the_live_day_is_not_judged_by_the_day_before(acme):
    alert = make_alert(acme, as_of=D)  # moved into red on D
    snapshot(acme, day(1), 55, "yellow")

    assert alerts_resolve(as_of=day(1)) == 0
    assert resolution(alert)[0] == "open"


def test_only_the_given_accounts_are_resolved(acme):
    other = AccountFactory(external_id="other")
    alerts = {a: make_alert(a, as_of=day(1)) for a in (acme, other)}
    for account in (acme, other):
        snapshot(account, D, 75, "green")

    assert alerts_resolve(as_of=D, account_ids=[other.pk]) == 1

    assert resolution(alerts[acme])[0] == "open"
    assert resolution(alerts[other])[0] == "resolved"


def test_the_pass_is_set_based_whatever_the_book_size(db):
    def book(n: int, prefix: str) -> None:
        for i in range(n):
            account = AccountFactory(external_id=f"{prefix}{i}", tier=3)
            Milestone.objects.create(account=account, key="first_query", due=day(9), completed_on=D)
            make_alert(account, key="b", as_of=day(1))  # band change into red
            make_alert(
                account,
                kind=AlertKind.ONBOARDING_OVERDUE,
                key="m",
                as_of=day(1),
                milestone="first_query",
            )
            make_alert(
                account,
                kind=AlertKind.RENEWAL_RISK,
                key="r",
                as_of=day(1),
                renewal=(D + timedelta(days=30)).isoformat(),
            )
            make_alert(account, kind=AlertKind.USAGE_SPIKE, key="s", as_of=day(1), spike_ratio=6.0)
            snapshot(account, D, 75, "green", facts={"spike_ratio": 1.0})

    def queries(prefix: str) -> int:
        ids = sorted(
            set(
                Alert.objects.filter(account__external_id__startswith=prefix).values_list(
                    "account_id", flat=True
                )
            )
        )
        with CaptureQueriesContext(connection) as ctx:
            resolved = alerts_resolve(as_of=D, account_ids=ids)
        assert resolved == 4 * len(ids)
        return len(ctx.captured_queries)

    book(3, "small")
    book(30, "big")

    assert queries("small") == queries("big") <= 12


# --- raised again after resolving ----------------------------------------------------------------


def test_a_resolved_crossing_that_holds_again_reopens_as_unread(acme, renewing, alice):
    alert_acknowledge(alert=renewing, user=alice)
    snapshot(acme, D, 74, "green")
    after_recompute(as_of=D, account_ids=None)
    assert resolution(renewing)[0] == "resolved"

    snapshot(acme, D, 45, "yellow")  # a late file of the same day: yellow after all
    after_recompute(as_of=D, account_ids=None)

    renewing.refresh_from_db()
    assert (renewing.status, renewing.read_at, renewing.resolved_reason) == ("open", None, "")
    assert renewing.acknowledged_by is None
    assert renewing.title == "Acme Analytics renews in 45 days while yellow"
    assert renewing.as_of == D
    assert Alert.objects.filter(kind="renewal_risk").count() == 1
    # The move to green the first file showed was a band change of its own; it is over.
    [green] = Alert.objects.filter(kind="band_change")
    assert green.title == "Acme Analytics moved yellow → green"
    assert resolution(green) == ("resolved", "band back to yellow (score 45)", D)


# --- plays ----------------------------------------------------------------------------------------


@pytest.fixture
def coasting_play(acme, library, alice):
    """Acme's coasting alert (raised the day before) and the play it started for Alice."""
    snapshot(acme, day(2), 35, "red")
    snapshot(acme, day(1), 35, "red", overrides=[COASTING])
    [alert] = alerts_raise(as_of=day(1))
    play = Play.objects.get(alert=alert)
    assert play.playbook.key == "coasting-adoption-plan" and play.owner == alice
    return play


def test_a_play_nobody_worked_closes_when_its_condition_clears(acme, alice, coasting_play):
    tasks = list(coasting_play.tasks.values_list("title", flat=True))
    assert work_view(user=alice).open_count == len(tasks)
    snapshot(acme, D, 35, "red")  # coasting no longer fires

    after_recompute(as_of=D, account_ids=[acme.pk])

    coasting_play.refresh_from_db()
    assert coasting_play.status == "cleared"
    assert coasting_play.closed_reason == "override coasting no longer fires"
    assert coasting_play.finished_at is not None
    assert set(Task.objects.filter(play=coasting_play).values_list("status", flat=True)) == {
        "cancelled"
    }
    work = work_view(user=alice)
    assert work.open_count == 0  # they left My work
    assert all(w.open == 0 for w in workload(on=TODAY))


def test_ticking_off_a_cancelled_task_from_a_stale_page_says_why(
    acme, alice, alice_client, coasting_play
):
    stale = coasting_play.tasks.order_by("due", "id").first()
    snapshot(acme, D, 35, "red")
    after_recompute(as_of=D, account_ids=[acme.pk])

    response = alice_client.post(
        f"/work/tasks/{stale.pk}/complete", {"from": "work"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert (
        f"Not needed any more: {stale.title} (its play closed when the condition cleared)."
    ) in response.content.decode()
    stale.refresh_from_db()
    assert (stale.status, stale.completed_by) == ("cancelled", None)


def test_a_play_with_work_done_stays_open_and_says_the_condition_cleared(
    acme, alice, coasting_play
):
    first, *rest = coasting_play.tasks.order_by("due", "id")
    plays.task_complete(task=first, user=alice)
    snapshot(acme, D, 35, "red")

    after_recompute(as_of=D, account_ids=[acme.pk])

    coasting_play.refresh_from_db()
    assert coasting_play.status == "open"
    assert [t.status for t in coasting_play.tasks.order_by("due", "id")] == ["done"] + [
        "open"
    ] * len(rest)
    assert work_view(user=alice).open_count == len(rest)


def test_the_plays_tab_shows_a_cleared_play_and_the_note_on_a_worked_one(
    acme, alice, alice_client, coasting_play, library
):
    worked = plays.play_start(
        account=acme,
        playbook=library["sharp-drop"],
        alert=Alert.objects.create(
            account=acme,
            kind="band_change",
            key="k",
            as_of=day(1),
            title="Acme moved green → red",
            detail="d",
            data={"band": "red", "from_band": "green", "score": 30},
            owner=alice,
        ),
    )
    plays.task_complete(task=worked.tasks.order_by("due", "id").first(), user=alice)
    snapshot(acme, D, 72, "green")  # coasting gone and the band is back to green

    after_recompute(as_of=D, account_ids=[acme.pk])
    html = alice_client.get("/accounts/acme/plays/").content.decode()

    cleared = html[html.index(f'id="play-{coasting_play.pk}"') :]
    cleared = cleared[: cleared.index("</tr>")]
    assert ">Condition cleared</span>" in cleared
    assert (
        '<div class="sub" data-testid="closed-reason">override coasting no longer fires; '
        "closed before any task was done</div>"
    ) in cleared
    note = (
        f'<p class="condition-cleared" data-testid="condition-cleared">Condition cleared on '
        f"{D:%b} {D.day}, {D.year}: band back to green (score 72). The play stays open because "
        "work was done on it; finish or cancel it.</p>"
    )
    assert note in html
    assert html.count('data-testid="condition-cleared"') == 1
