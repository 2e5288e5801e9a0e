"""Aggregates through the real database: usage imported with run_import, then health_recompute.

Every series is hand-built so the numbers the snapshot stores can be computed on paper.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ContactRole
from cs_portal.imports import run_import
from health.models import HealthSnapshot
from health.services import health_backfill, health_recompute
from tests.factories import AccountFactory, ContactFactory, ContractFactory

START = date(2026, 1, 1)  # a Thursday
END = date(2026, 3, 31)  # 90 days of usage: January 1 to March 31


pytestmark = pytest.mark.usefixtures("eager_celery")


def days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def seasonal(day: date, weekday_units: float = 1000.0) -> float:
    """Weekends run at 20% of weekdays, as real desks do."""
    return weekday_units * (0.2 if day.weekday() >= 5 else 1.0)


def import_usage(rows: list[dict]) -> None:
    result = run_import("usage", json_rows=rows)
    assert result.ok, result.errors


def units_rows(account: str, values: dict[date, float], **dims) -> list[dict]:
    return [
        {"account": account, "date": d.isoformat(), "metric": "units", "value": v, **dims}
        for d, v in values.items()
    ]


def snapshot(account, day: date) -> HealthSnapshot:
    return HealthSnapshot.objects.get(account=account, date=day)


def signals(snap: HealthSnapshot) -> dict[str, dict]:
    return {s["key"]: s for s in snap.signals}


def override_keys(snap: HealthSnapshot) -> list[str]:
    return [o["key"] for o in snap.overrides]


# --- sharp drop ------------------------------------------------------------------------------


def test_weekly_seasonality_never_reads_as_a_sharp_drop(db):
    account = AccountFactory(external_id="desk", tier=3)
    import_usage(units_rows("desk", {d: seasonal(d) for d in days(START, END)}))

    first_as_of = END - timedelta(days=29)
    assert health_backfill(since=first_as_of, until=END, account_ids=[account.pk]) == 30

    snaps = list(HealthSnapshot.objects.filter(account=account).order_by("date"))
    assert [s.date for s in snaps] == list(days(first_as_of, END))
    assert [s.date for s in snaps if "sharp_drop" in override_keys(s)] == []
    # Every week has the same shape, so the trend is flat all month long.
    assert {signals(s)["usage_trend"]["raw"] for s in snaps} == {1.0}


def test_a_real_cliff_fires_sharp_drop_on_the_seventh_low_day(db):
    account = AccountFactory(external_id="cliff", tier=3)
    cliff = END - timedelta(days=6)  # March 25: the last 7 days run at 20%
    assert (cliff - timedelta(days=1)).weekday() < 5  # the day before is a normal weekday
    values = {d: seasonal(d) * (0.2 if d >= cliff else 1.0) for d in days(START, END)}
    import_usage(units_rows("cliff", values))

    health_recompute(as_of=END - timedelta(days=1), account_ids=[account.pk])
    health_recompute(as_of=END, account_ids=[account.pk])

    six_low = snapshot(account, END - timedelta(days=1))
    assert "sharp_drop" not in override_keys(six_low)
    assert six_low.band != "red"

    seven_low = snapshot(account, END)
    assert override_keys(seven_low) == ["sharp_drop"]
    assert seven_low.band == "red"
    assert seven_low.score <= 39
    # Prior 28 days (Feb 22 – Mar 24) are four whole weeks: (20 × 1000 + 8 × 200) / 28 = 771.
    # Last 7 days at 20%: (5 × 200 + 2 × 40) / 7 = 154 units/day.
    assert seven_low.overrides[0]["detail"].endswith("154 units/day vs 771")


def test_only_six_low_days_is_not_a_sharp_drop(db):
    account = AccountFactory(external_id="dip", tier=3)
    values = dict.fromkeys(days(START, END), 1000.0)
    values.update(dict.fromkeys(days(END - timedelta(days=5), END), 200.0))
    import_usage(units_rows("dip", values))

    health_recompute(as_of=END, account_ids=[account.pk])

    snap = snapshot(account, END)
    assert override_keys(snap) == []
    assert snap.band != "red"


# --- trend, commit pace, breadth -------------------------------------------------------------


def test_trend_ratio_and_commit_pace_match_hand_computed_values(db):
    account = AccountFactory(external_id="pace", tier=3)
    ContractFactory(
        account=account,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        commit_units=Decimal("730000"),
    )
    last_28 = END - timedelta(days=27)  # March 4
    values = {d: 1200.0 if d >= last_28 else 1000.0 for d in days(START, END)}
    import_usage(units_rows("pace", values))

    health_recompute(as_of=END, account_ids=[account.pk])

    sig = signals(snapshot(account, END))
    # 28 × 1200 = 33,600 vs 28 × 1000 = 28,000 → 1.2
    assert sig["usage_trend"]["raw"] == 1.2
    assert sig["usage_trend"]["value"] == "34k vs 28k units (+20%)"
    assert sig["usage_trend"]["score"] == 100.0
    # consumed 62 × 1000 + 28 × 1200 = 95,600; pro-rata 730,000 × 90 / 365 = 180,000 → 0.531
    assert sig["commit_pace"]["raw"] == 0.531
    assert sig["commit_pace"]["score"] == 53.1
    assert sig["commit_pace"]["value"] == "53% of pro-rata commit (96k of 730k units)"


def test_commit_pace_counts_only_units_inside_the_contract_period(db):
    account = AccountFactory(external_id="renewed", tier=3)
    ContractFactory(
        account=account, start=date(2025, 3, 1), end=date(2026, 2, 28), commit_units=Decimal("1")
    )
    ContractFactory(
        account=account,
        start=date(2026, 3, 1),
        end=date(2027, 2, 28),
        commit_units=Decimal("365000"),
    )
    import_usage(units_rows("renewed", dict.fromkeys(days(START, END), 1000.0)))

    health_recompute(as_of=END, account_ids=[account.pk])

    # Current period from March 1: 31 days × 1000 consumed vs 365,000 × 31 / 365 = 31,000.
    assert signals(snapshot(account, END))["commit_pace"]["raw"] == 1.0


def test_breadth_counts_chains_plus_datasets_in_28_vs_90_days(db):
    account = AccountFactory(external_id="wide", tier=3)
    early, recent = date(2026, 1, 15), date(2026, 3, 20)
    rows = units_rows("wide", dict.fromkeys(days(START, END), 1000.0))
    for day, chain, dataset in [
        (early, "ethereum", "ethereum.core.transactions"),
        (early, "base", "base.core.blocks"),
        (early, "solana", ""),
        (recent, "ethereum", "ethereum.core.transactions"),
        (recent, "base", ""),
    ]:
        rows.append(
            {
                "account": "wide",
                "date": day.isoformat(),
                "metric": "queries",
                "value": 10,
                "chain": chain,
                "dataset": dataset,
            }
        )
    # Failed queries aim at something they do not use: never counted as breadth.
    rows.append(
        {
            "account": "wide",
            "date": recent.isoformat(),
            "metric": "failed_queries",
            "value": 3,
            "chain": "polygon",
            "dataset": "polygon.core.logs",
            "reason": "chain_not_covered",
        }
    )
    import_usage(rows)

    health_recompute(as_of=END, account_ids=[account.pk])

    breadth = signals(snapshot(account, END))["breadth"]
    # 28 days: ethereum, base + ethereum.core.transactions = 3
    # 90 days: ethereum, base, solana + ethereum.core.transactions, base.core.blocks = 5
    assert breadth["value"] == "3 of 5 chains+datasets still in use"
    assert breadth["raw"] == 0.6
    assert breadth["score"] == 75.0


# --- data trust ------------------------------------------------------------------------------


def _healthy_usage(external_id: str, dataset: str) -> list[dict]:
    """Steady usage on every signal an institution has, touching one dataset daily."""
    chain = dataset.split(".")[0]
    rows = []
    for d in days(START, END):
        rows += [
            {
                "account": external_id,
                "date": d.isoformat(),
                "metric": "units",
                "value": 1000,
                "product": "developer",
                "chain": chain,
                "dataset": dataset,
            },
            {"account": external_id, "date": d.isoformat(), "metric": "api_calls", "value": 500},
            {"account": external_id, "date": d.isoformat(), "metric": "active_users", "value": 6},
        ]
    return rows


def test_open_accuracy_incident_on_a_dataset_they_used_caps_at_yellow(db):
    hit = AccountFactory(external_id="hit", tier=3, seats=10)
    spared = AccountFactory(external_id="spared", tier=3, seats=10)
    import_usage(
        _healthy_usage("hit", "base.core.logs") + _healthy_usage("spared", "ethereum.core.blocks")
    )
    result = run_import(
        "incidents",
        json_rows=[
            {
                "key": "INC-42",
                "kind": "accuracy",
                "severity": "high",
                "started": "2026-03-28",
                "datasets": "base.core.logs",
                "title": "Base logs double-counted",
            }
        ],
    )
    assert result.ok, result.errors

    health_recompute(as_of=END)

    hit_snap, spared_snap = snapshot(hit, END), snapshot(spared, END)
    assert override_keys(hit_snap) == ["data_trust_incident"]
    assert hit_snap.overrides[0]["detail"] == (
        "open accuracy incident Base logs double-counted touching datasets they used in the "
        "last 28 days"
    )
    assert hit_snap.weighted_score >= 70
    assert (hit_snap.score, hit_snap.band) == (69, "yellow")
    assert signals(hit_snap)["data_trust"]["score"] == 40.0

    assert override_keys(spared_snap) == []
    assert spared_snap.band == "green"
    assert signals(spared_snap)["data_trust"]["score"] == 100.0


def test_incident_on_a_dataset_used_only_long_ago_or_already_resolved_does_not_cap(db):
    old = AccountFactory(external_id="old", tier=3, seats=10)
    rows = _healthy_usage("old", "ethereum.core.blocks")
    rows.append(
        {
            "account": "old",
            "date": "2026-01-10",
            "metric": "queries",
            "value": 5,
            "chain": "base",
            "dataset": "base.core.logs",
        }
    )
    import_usage(rows)
    run_import(
        "incidents",
        json_rows=[
            {
                "key": "INC-1",
                "kind": "accuracy",
                "severity": "high",
                "started": "2026-03-28",
                "datasets": "base.core.logs",
            },
            {
                "key": "INC-2",
                "kind": "outage",
                "severity": "high",
                "started": "2026-03-20",
                "resolved": "2026-03-25",
                "datasets": "ethereum.core.blocks",
            },
        ],
    )

    health_recompute(as_of=END)

    snap = snapshot(old, END)
    assert override_keys(snap) == []
    assert snap.band == "green"


# --- people ----------------------------------------------------------------------------------


def test_departed_champion_without_replacement_fires_champion_left(db):
    account = AccountFactory(external_id="gone", tier=3, seats=10)
    import_usage(_healthy_usage("gone", "ethereum.core.blocks"))
    ContactFactory(
        account=account, role=ContactRole.CHAMPION, name="Dana Reyes", left=date(2026, 3, 1)
    )

    health_recompute(as_of=END, account_ids=[account.pk])

    snap = snapshot(account, END)
    assert override_keys(snap) == ["champion_left"]
    assert snap.overrides[0]["detail"] == (
        "champion Dana Reyes has left and nobody has replaced them"
    )
    assert snap.band == "yellow"
    assert snap.score == 69


def test_departed_champion_with_a_replacement_does_not_fire(db):
    account = AccountFactory(external_id="replaced", tier=3, seats=10)
    import_usage(_healthy_usage("replaced", "ethereum.core.blocks"))
    ContactFactory(
        account=account, role=ContactRole.CHAMPION, name="Dana Reyes", left=date(2026, 3, 1)
    )
    ContactFactory(account=account, role=ContactRole.CHAMPION, name="Sam Ortiz")

    health_recompute(as_of=END, account_ids=[account.pk])

    assert override_keys(snapshot(account, END)) == []


def test_a_champion_leaving_after_the_as_of_day_has_not_left_yet(db):
    account = AccountFactory(external_id="leaving", tier=3, seats=10)
    import_usage(_healthy_usage("leaving", "ethereum.core.blocks"))
    ContactFactory(
        account=account, role=ContactRole.CHAMPION, name="Dana Reyes", left=date(2026, 4, 15)
    )

    health_recompute(as_of=END, account_ids=[account.pk])

    assert override_keys(snapshot(account, END)) == []


# --- the recompute command -------------------------------------------------------------------


def test_recompute_command_backfills_one_snapshot_per_day_for_one_account(db, capsys):
    desk = AccountFactory(external_id="desk", tier=3)
    other = AccountFactory(external_id="other", tier=3)
    import_usage(units_rows("desk", {d: seasonal(d) for d in days(START, END)}))

    call_command(
        "recompute_health", "--account", "desk", "--since", "2026-03-29", "--as-of", "2026-03-31"
    )

    assert capsys.readouterr().out.strip() == (
        "backfilled 3 snapshots over 3 days (2026-03-29 to 2026-03-31)"
    )
    assert list(
        HealthSnapshot.objects.filter(account=desk).order_by("date").values_list("date", flat=True)
    ) == list(days(date(2026, 3, 29), END))
    assert not HealthSnapshot.objects.filter(account=other).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-02-30"], "'2026-02-30' is not a date in YYYY-MM-DD form"),
        (["--account", "nope"], "no account 'nope'"),
        (
            ["--since", "2026-04-02", "--as-of", "2026-04-01"],
            "--since 2026-04-02 is after --as-of 2026-04-01",
        ),
    ],
)
def test_recompute_command_refuses_bad_input_and_writes_nothing(db, args, message):
    AccountFactory(external_id="desk")
    with pytest.raises(CommandError) as exc:
        call_command("recompute_health", *args)
    assert str(exc.value) == message
    assert HealthSnapshot.objects.count() == 0


def test_lapsed_accounts_are_not_scored_but_accounts_without_contract_data_are(db):
    lapsed = AccountFactory(external_id="lapsed")
    ContractFactory(account=lapsed, start=date(2025, 1, 1), end=date(2025, 12, 31))
    active = AccountFactory(external_id="active")
    ContractFactory(account=active, start=date(2026, 1, 1), end=date(2026, 12, 31))
    unknown = AccountFactory(external_id="no-contracts")
    for account in (lapsed, active, unknown):
        import_usage(units_rows(account.external_id, {d: seasonal(d) for d in days(START, END)}))
    assert health_recompute(as_of=END) == 2
    scored = set(
        HealthSnapshot.objects.filter(date=END).values_list("account__external_id", flat=True)
    )
    assert scored == {"active", "no-contracts"}


def test_backfilled_snapshots_do_not_see_engagement_from_their_future(db):
    account = AccountFactory(external_id="exec")
    ContactFactory(account=account, role=ContactRole.EXEC_SPONSOR, last_engaged=date(2026, 3, 20))
    import_usage(units_rows("exec", {d: seasonal(d) for d in days(START, END)}))
    health_recompute(as_of=date(2026, 3, 1))
    health_recompute(as_of=END)
    assert signals(snapshot(account, date(2026, 3, 1)))["exec_engagement"]["score"] == 0
    assert signals(snapshot(account, END))["exec_engagement"]["score"] == 100
