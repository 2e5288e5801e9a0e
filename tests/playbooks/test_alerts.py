"""Alert raising (playbooks/alerts/) and the alerts API.

The rules are checked on hand-made snapshots (exactly the numbers each rule reads), then end to
end through the recompute: a collapse raises its alerts once, recomputing raises nothing new,
and a backfill of old days raises nothing at all.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cs_portal.imports import run_import
from health.services import health_backfill, health_recompute, last_complete_day
from playbooks.alerts.selectors import alert_candidates
from playbooks.alerts.services import alerts_raise
from playbooks.models import Alert, AlertDelivery, AlertKind, Milestone, Play, Task
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks.alert_helpers import make_alert, snapshot

D = last_complete_day()  # the live day: alerts are raised for it (and the day before)


def day(n: int) -> date:
    """n days before the live day."""
    return D - timedelta(days=n)


def kinds(alerts) -> list[tuple[str, str]]:
    return sorted((a.kind, a.key) for a in alerts)


SHARP = {
    "key": "sharp_drop",
    "detail": "usage below 50% … 100 units/day vs 1,000",
    "cap_band": "red",
}


# --- band change and overrides ----------------------------------------------------------------


def test_band_change_raises_one_alert_owned_by_the_csm(acme, alice):
    snapshot(acme, day(1), 75, "green")
    snapshot(acme, D, 55, "yellow")

    [alert] = alerts_raise(as_of=D)

    assert (alert.kind, alert.key, alert.owner) == ("band_change", f"{D}:green>yellow", alice)
    assert alert.title == "Acme Analytics moved green → yellow"
    assert alert.detail == "Health went from 75 (green) to 55 (yellow)."
    assert alert.data == {"score": 55, "band": "yellow", "from_band": "green", "from_score": 75}
    assert alert.as_of == D
    assert alerts_raise(as_of=D) == []
    assert Alert.objects.count() == 1


def test_same_band_or_no_previous_day_raises_nothing(acme):
    snapshot(acme, day(1), 80, "green")
    snapshot(acme, D, 72, "green")
    fresh = AccountFactory(external_id="fresh")
    snapshot(fresh, D, 20, "red")  # first snapshot ever: nothing to cross from

    assert alerts_raise(as_of=D) == []


def test_an_override_fires_once_when_it_appears(acme):
    snapshot(acme, day(2), 80, "green")
    snapshot(acme, day(1), 80, "green")
    snapshot(acme, D, 30, "red", overrides=[SHARP])

    raised = alerts_raise(as_of=D)

    assert kinds(raised) == [("band_change", f"{D}:green>red"), ("override", f"{D}:sharp_drop")]
    override = next(a for a in raised if a.kind == "override")
    assert override.title == "Acme Analytics: sharp_drop override fired (health capped at red)"
    assert override.detail == SHARP["detail"]
    assert override.data["override"] == "sharp_drop"
    assert override.data["cap_band"] == "red"


def test_an_override_still_firing_the_next_day_is_not_news(acme):
    snapshot(acme, day(1), 30, "red", overrides=[SHARP])
    snapshot(acme, D, 28, "red", overrides=[SHARP])

    assert alerts_raise(as_of=D) == []


# --- score drop -------------------------------------------------------------------------------


def test_score_drop_of_15_in_7_days_crosses_only_once(acme):
    for n, score in {9: 80, 8: 80, 7: 80, 2: 79, 1: 62, 0: 60}.items():
        snapshot(acme, day(n), score, "green" if score >= 70 else "yellow")

    first = [a for a in alerts_raise(as_of=day(1)) if a.kind == "score_drop"]
    then = [a for a in alerts_raise(as_of=D) if a.kind == "score_drop"]

    assert [(a.key, a.title) for a in first] == [
        (f"{day(1)}", "Acme Analytics dropped 18 points in 7 days (80 → 62)")
    ]
    assert first[0].data["from_score"] == 80 and first[0].data["points"] == 18
    assert then == []  # still 20 down on the next day: the same drop, not a new one


def test_a_drop_of_14_points_is_not_a_score_drop(acme):
    snapshot(acme, day(7), 74, "green")
    snapshot(acme, day(1), 70, "green")
    snapshot(acme, D, 60, "yellow")

    assert [a.kind for a in alerts_raise(as_of=D)] == ["band_change"]


# --- renewal risk -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "band", "raised"),
    [
        (60, "yellow", True),
        (90, "red", True),
        (91, "red", False),  # outside the 90-day window
        (30, "green", False),  # renewing, but healthy
    ],
)
def test_renewal_risk_within_90_days_when_not_green(acme, days_left, band, raised):
    renewal = D + timedelta(days=days_left)
    ContractFactory(
        account=acme, start=renewal - timedelta(days=364), end=renewal, arr=Decimal("120000")
    )
    snapshot(acme, day(1), 55 if band != "green" else 75, band)
    snapshot(acme, D, 50 if band != "green" else 76, band)

    alerts = [a for a in alerts_raise(as_of=D) if a.kind == "renewal_risk"]

    if not raised:
        assert alerts == []
        return
    [alert] = alerts
    assert alert.key == f"{renewal}"
    assert alert.title == f"Acme Analytics renews in {days_left} days while {band}"
    assert alert.detail == f"Renewal on {renewal} ($120,000 ARR) and health is 50 ({band})."
    assert alert.data["arr"] == 120000.0 and alert.data["renewal"] == renewal.isoformat()


def test_renewal_risk_is_raised_once_per_renewal(acme):
    renewal = D + timedelta(days=45)
    ContractFactory(account=acme, start=renewal - timedelta(days=364), end=renewal)
    for n in (2, 1, 0):
        snapshot(acme, day(n), 50, "yellow")

    assert kinds(alerts_raise(as_of=day(1))) == [("renewal_risk", f"{renewal}")]
    assert alerts_raise(as_of=D) == []


# --- commit thresholds ------------------------------------------------------------------------


def commit_facts(share: float, period_start: str = "2026-01-01") -> dict:
    return {
        "consumed_share": share,
        "consumed": 365000 * share,
        "commit": 365000.0,
        "period_start": period_start,
        "period_end": "2026-12-31",
    }


def test_commit_thresholds_70_and_90_once_per_contract_period(acme):
    snapshot(acme, day(2), 75, "green", facts=commit_facts(0.65))
    snapshot(acme, day(1), 75, "green", facts=commit_facts(0.74))
    snapshot(acme, D, 75, "green", facts=commit_facts(0.92))

    assert kinds(alerts_raise(as_of=day(1))) == [("commit_threshold", "70:2026-01-01")]
    [ninety] = alerts_raise(as_of=D)
    assert ninety.key == "90:2026-01-01"
    assert ninety.title == "Acme Analytics crossed 90% of its commit (92% used)"
    assert ninety.detail == (
        "335,800 of 365,000 committed units consumed since 2026-01-01 (contract ends 2026-12-31)."
    )
    assert alerts_raise(as_of=D) == []
    assert Alert.objects.filter(kind="commit_threshold").count() == 2


def test_crossing_70_and_90_at_once_raises_one_alert_for_90(acme):
    snapshot(acme, day(2), 75, "green", facts=commit_facts(0.5))
    snapshot(acme, day(1), 75, "green", facts=commit_facts(0.65))
    snapshot(acme, D, 75, "green", facts=commit_facts(0.93))

    assert alerts_raise(as_of=day(1)) == []
    [alert] = alerts_raise(as_of=D)

    assert (alert.key, alert.title) == (
        "90:2026-01-01",
        "Acme Analytics crossed 90% of its commit (93% used)",
    )
    assert alert.data["threshold"] == 0.9
    assert alerts_raise(as_of=D) == []  # and no late 70% alert on a later recompute
    assert list(Alert.objects.values_list("key", flat=True)) == ["90:2026-01-01"]


def test_a_new_contract_period_crosses_70_again(acme):
    make_alert(acme, kind=AlertKind.COMMIT_THRESHOLD, key="70:2025-01-01")
    snapshot(acme, day(1), 75, "green", facts=commit_facts(0.2, "2026-01-01"))
    snapshot(acme, D, 75, "green", facts=commit_facts(0.71, "2026-01-01"))

    assert kinds(alerts_raise(as_of=D)) == [("commit_threshold", "70:2026-01-01")]


def test_a_catch_up_does_not_raise_a_commit_crossing_older_than_its_window(acme):
    """The demo's seed (and any catch-up after a backfill) compares with the snapshot 30 days
    back: a threshold already crossed then is old news; one crossed inside the window is not."""
    globex = AccountFactory(external_id="globex", name="Globex", tier=2)
    snapshot(acme, day(30), 75, "green", facts=commit_facts(0.78))
    snapshot(acme, D, 75, "green", facts=commit_facts(0.84))
    snapshot(globex, day(30), 75, "green", facts=commit_facts(0.62))
    snapshot(globex, D, 75, "green", facts=commit_facts(0.71))

    raised = alerts_raise(as_of=D, since_days=30)

    assert [(a.account.external_id, a.key) for a in raised] == [("globex", "70:2026-01-01")]


def test_a_commit_crossed_in_an_earlier_period_is_news_in_the_new_one(acme):
    snapshot(acme, day(1), 75, "green", facts=commit_facts(0.95, "2025-01-01"))
    snapshot(acme, D, 75, "green", facts=commit_facts(0.72, "2026-01-01"))

    assert kinds(alerts_raise(as_of=D)) == [("commit_threshold", "70:2026-01-01")]


def test_no_commit_no_threshold(acme):
    snapshot(acme, day(1), 75, "green", facts={"consumed_share": None})
    snapshot(acme, D, 75, "green", facts={"consumed_share": None})

    assert alerts_raise(as_of=D) == []


# --- usage spike ------------------------------------------------------------------------------


def spike_facts(ratio: float | None) -> dict:
    return {"spike_ratio": ratio, "units_7": 7 * 6000.0, "prior_daily_avg": 1000.0}


def test_usage_spike_on_tier_3_raises_on_the_crossing(db):
    digital = AccountFactory(external_id="dig", name="Digital Dev", tier=3)
    snapshot(digital, day(1), 80, "green", facts=spike_facts(2.0))
    snapshot(digital, D, 80, "green", facts=spike_facts(6.0))

    [alert] = alerts_raise(as_of=D)

    assert (alert.kind, alert.key, alert.owner) == ("usage_spike", f"{D}", None)
    assert alert.title == "Digital Dev: usage spiked to 6.0× its normal level (threshold 5×)"
    assert alert.detail.startswith(
        "Last 7 days average 6,000 units/day vs 1,000 over the 28 days before"
    )
    assert alert.data["spike_ratio"] == 6.0


def test_usage_spike_is_not_raised_again_while_it_lasts(db):
    digital = AccountFactory(external_id="dig", tier=3)
    snapshot(digital, day(1), 80, "green", facts=spike_facts(5.5))
    snapshot(digital, D, 80, "green", facts=spike_facts(7.0))

    assert alerts_raise(as_of=D) == []


@pytest.mark.parametrize("tier", [1, 2])
def test_usage_spike_is_for_the_digital_tier_only(db, tier):
    account = AccountFactory(external_id="big", tier=tier)
    snapshot(account, day(1), 80, "green", facts=spike_facts(1.0))
    snapshot(account, D, 80, "green", facts=spike_facts(8.0))

    assert alerts_raise(as_of=D) == []


# --- onboarding -------------------------------------------------------------------------------


def test_an_overdue_milestone_raises_onboarding_overdue_once(acme, alice):
    Milestone.objects.create(account=acme, key="first_query", due=day(3))
    Milestone.objects.create(account=acme, key="value_defined", due=day(5), completed_on=day(6))
    Milestone.objects.create(account=acme, key="first_production_pipeline", due=D)
    snapshot(acme, day(1), 75, "green")
    snapshot(acme, D, 75, "green")

    [alert] = alerts_raise(as_of=D)

    assert (alert.kind, alert.key, alert.owner) == (
        "onboarding_overdue",
        f"first_query:{day(3)}",
        alice,
    )
    assert alert.title == f"Acme Analytics: First query milestone overdue (due {day(3)})"
    assert alert.detail == f"Due {day(3)}, 3 days ago, not done yet."
    assert alerts_raise(as_of=D) == []


# --- live days only ---------------------------------------------------------------------------


def test_a_past_day_raises_nothing(acme):
    snapshot(acme, day(6), 80, "green")
    snapshot(acme, day(5), 30, "red", overrides=[SHARP])

    assert alert_candidates(as_of=day(5)) != []  # the crossing is there …
    assert alerts_raise(as_of=day(5)) == []  # … but it is history, not news
    assert Alert.objects.count() == 0


def test_only_the_given_accounts_are_looked_at(acme):
    other = AccountFactory(external_id="other")
    for account in (acme, other):
        snapshot(account, day(1), 80, "green")
        snapshot(account, D, 30, "red")

    assert [a.account for a in alerts_raise(as_of=D, account_ids=[other.pk])] == [other]


# --- end to end through the recompute ---------------------------------------------------------


def collapse_rows(external_id: str, *, days: int = 60, low_days: int = 7) -> list[dict]:
    rows = []
    for n in range(days):
        units = 100 if n < low_days else 1000
        rows += [
            {
                "account": external_id,
                "date": day(n).isoformat(),
                "metric": "units",
                "value": units,
                "product": "developer",
                "chain": "ethereum",
                "dataset": "ethereum.core.transactions",
            },
            {
                "account": external_id,
                "date": day(n).isoformat(),
                "metric": "api_calls",
                "value": 400,
            },
            {
                "account": external_id,
                "date": day(n).isoformat(),
                "metric": "active_users",
                "value": 6,
            },
        ]
    return rows


@pytest.fixture
def collapsing(acme, eager_celery, settings):
    """Acme healthy for 53 days, then 7 days at 10% of its usage: red by sharp_drop on D."""
    settings.SLACK_WEBHOOK_URL = ""
    acme.seats = 10
    acme.save()
    ContractFactory(
        account=acme,
        start=D - timedelta(days=200),
        end=D + timedelta(days=165),
        arr=Decimal("90000"),
    )
    assert run_import("usage", json_rows=collapse_rows("acme", low_days=0)).ok
    health_recompute(as_of=day(1))  # yesterday: green, before the collapse lands
    assert run_import("usage", json_rows=collapse_rows("acme")).ok
    return acme


def test_the_recompute_raises_the_crossing_once(
    collapsing, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        health_recompute(as_of=D)

    raised = Alert.objects.filter(account=collapsing)
    assert kinds(raised) == [("band_change", f"{D}:green>red"), ("override", f"{D}:sharp_drop")]
    assert {a.owner for a in raised} == {alice}
    # Delivery was queued after the commit as the default routing says for a tier-2
    # deterioration: inbox (sent) and Slack (not configured here), no digest; one story.
    assert len({a.story for a in raised}) == 1
    assert sorted(AlertDelivery.objects.values_list("channel", "status")) == [
        ("inbox", "sent"),
        ("inbox", "sent"),
        ("slack", "skipped"),
        ("slack", "skipped"),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        health_recompute(as_of=D)
        health_recompute(as_of=D, account_ids=[collapsing.pk])
    assert Alert.objects.count() == 2
    assert AlertDelivery.objects.count() == 4


def test_the_sharp_drop_alert_starts_its_play_for_the_csm(collapsing, alice):
    from playbooks.plays.library import playbooks_load_defaults

    playbooks_load_defaults()
    health_recompute(as_of=D)

    play = Play.objects.get(account=collapsing, playbook__key="sharp-drop")
    assert play.owner == alice
    assert play.alert.kind == "override"
    assert Task.objects.filter(play=play).exclude(owner=alice).count() == 0
    assert Task.objects.filter(play=play).count() == play.playbook.steps.count() > 0
    health_recompute(as_of=D)
    assert Play.objects.filter(account=collapsing).count() == Play.objects.count()
    assert Play.objects.filter(account=collapsing, playbook__key="sharp-drop").count() == 1


def test_a_backfill_of_old_days_raises_no_alerts(acme, eager_celery):
    ContractFactory(account=acme, start=D - timedelta(days=300), end=D + timedelta(days=65))
    rows = collapse_rows("acme", days=90)
    # The collapse happened a month ago, and usage came back since.
    for row in rows:
        n = (D - date.fromisoformat(row["date"])).days
        if row["metric"] == "units":
            row["value"] = 100 if 30 <= n < 40 else 1000
    assert run_import("usage", json_rows=rows).ok

    health_backfill(since=day(45), until=day(2))

    bands = set(acme.health.values_list("band", flat=True))
    assert "red" in bands  # the backfill did see the collapse …
    assert Alert.objects.count() == 0  # … and raised nothing for it


# --- the alerts API ---------------------------------------------------------------------------


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def some_alerts(acme, alice, bob):
    globex = AccountFactory(external_id="globex", name="Globex", csm=bob)
    older = make_alert(acme, key="old", created_ago=timedelta(days=3))
    newer = make_alert(
        acme,
        kind=AlertKind.RENEWAL_RISK,
        key="2026-12-31",
        title="Acme renews in 60 days while red",
        detail="Renewal on …",
    )
    other = make_alert(globex, key="g", created_ago=timedelta(hours=2))
    AlertDelivery.objects.create(alert=newer, channel="inbox", status="sent", attempts=1)
    AlertDelivery.objects.create(
        alert=newer,
        channel="slack",
        status="retrying",
        attempts=2,
        last_error="HTTP 500: internal_error",
    )
    return older, newer, other


def test_api_lists_alerts_newest_first_with_their_deliveries(client, alice_token, some_alerts):
    older, newer, other = some_alerts

    response = client.get("/api/v1/alerts", **auth(alice_token))

    assert response.status_code == 200
    body = response.json()
    assert [(a["account"], a["kind"], a["key"]) for a in body] == [
        ("acme", "renewal_risk", "2026-12-31"),
        ("globex", "band_change", "g"),
        ("acme", "band_change", "old"),
    ]
    first = body[0]
    assert first["detail"] == "Renewal on …"
    assert first["title"] == "Acme renews in 60 days while red"
    assert first["as_of"] == newer.as_of.isoformat()
    assert first["created_at"].startswith(newer.created_at.date().isoformat())
    assert first["deliveries"] == [
        {"channel": "inbox", "status": "sent", "attempts": 1, "last_error": "", "recipient": None},
        {
            "channel": "slack",
            "status": "retrying",
            "attempts": 2,
            "last_error": "HTTP 500: internal_error",
            "recipient": None,
        },
    ]
    # Added with routing: the story it belongs to (none before routing) and its direction.
    assert (first["story"], first["direction"]) == ("", "worse")
    assert body[1]["deliveries"] == []


def test_api_filters_by_account_kind_and_since(client, alice_token, some_alerts):
    since = (timezone.now() - timedelta(days=1)).date().isoformat()

    def keys(query: str) -> list[str]:
        response = client.get(f"/api/v1/alerts?{query}", **auth(alice_token))
        assert response.status_code == 200, response.content
        return [a["key"] for a in response.json()]

    assert keys("account=acme") == ["2026-12-31", "old"]
    assert keys("kind=band_change") == ["g", "old"]
    assert keys(f"since={since}") == ["2026-12-31", "g"]
    assert keys(f"account=acme&kind=band_change&since={since}") == []
    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    assert keys(f"since={hour_ago.replace('+', '%2B')}") == ["2026-12-31"]
    assert keys("limit=1") == ["2026-12-31"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "kind=nope",
            "kind must be one of band_change, override, score_drop, renewal_risk, "
            "onboarding_overdue, commit_threshold, usage_spike, expansion_handoff, not 'nope'",
        ),
        (
            "since=yesterday",
            "since must be a date (YYYY-MM-DD) or an ISO datetime, not 'yesterday'",
        ),
        (
            "since=2026-02-30",
            "since must be a date (YYYY-MM-DD) or an ISO datetime, not '2026-02-30'",
        ),
        ("account=nobody", "account 'nobody' does not exist"),
        ("account=a%00b", "account contains a NUL character (0x00); remove it"),
        ("limit=0", "limit must be a whole number from 1 to 1000, not '0'"),
        ("limit=abc", "limit must be a whole number from 1 to 1000, not 'abc'"),
    ],
)
def test_api_bad_filters_are_400_with_a_message(client, alice_token, some_alerts, query, message):
    response = client.get(f"/api/v1/alerts?{query}", **auth(alice_token))

    assert response.status_code == 400
    assert response.json() == {"detail": message}


def test_api_needs_a_token(client, some_alerts):
    assert client.get("/api/v1/alerts").status_code == 401


def test_api_is_in_the_openapi_schema(client, alice_token):
    schema = client.get("/api/v1/openapi.json", **auth(alice_token)).json()
    params = {p["name"] for p in schema["paths"]["/api/v1/alerts"]["get"]["parameters"]}
    assert {"account", "kind", "since", "status"} <= params
