"""The health backtest: the pure metrics by hand, the outcome rules on a hand-built book (each
rule fires and its near miss does not), no writes, the command's report and the API.

Scores come from the engine as it stands, so the expected AUC and band rates are computed here
from the scores the backtest reports, by a different method (every bad/good pair compared)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_token_create
from cs_portal.imports import run_import
from health.backtest import (
    AccountOutcome,
    Backtest,
    backtest_compare,
    backtest_model,
    backtest_run,
    band_table,
    confusion,
    decile_table,
    lift,
    roc_auc,
)
from health.engine import DEFAULT_WEIGHTS
from health.models import HealthModel, HealthSnapshot
from health.services import health_model_create, health_model_current
from playbooks.models import Alert
from tests.conftest import table_counts, usage_landed
from tests.factories import AccountFactory, ContractFactory

AS_OF = date(2026, 3, 1)
HORIZON = 60
THROUGH = AS_OF + timedelta(days=HORIZON)  # 2026-04-30
FIRST = AS_OF - timedelta(days=100)


def pairwise_auc(risks: list[float], bad: list[bool]) -> float:
    """The AUC by its definition: every (bad, good) pair, a win 1, a tie ½."""
    pos = [r for r, b in zip(risks, bad, strict=True) if b]
    neg = [r for r, b in zip(risks, bad, strict=True) if not b]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


# --- pure metrics ------------------------------------------------------------------------------


def test_auc_counts_ties_as_half():
    # bad risks {90, 80} vs good {80, 10}: 90>80, 90>10, 80=80 (½), 80>10 → 3.5 of 4 pairs
    assert roc_auc([90, 80, 80, 10], [True, False, True, False]) == 0.875
    assert roc_auc([3, 2, 1], [True, False, False]) == 1.0
    assert roc_auc([1, 2, 3], [True, False, False]) == 0.0
    assert roc_auc([5, 5, 5, 5], [True, False, True, False]) == 0.5


def test_auc_needs_both_outcomes():
    assert roc_auc([1, 2], [False, False]) is None
    assert roc_auc([1, 2], [True, True]) is None
    assert roc_auc([], []) is None


def test_auc_matches_the_pairwise_definition_on_a_tied_random_book():
    rng = random.Random(3)
    risks = [rng.randint(0, 20) for _ in range(300)]
    bad = [rng.random() < 0.2 + r / 40 for r in risks]
    assert roc_auc(risks, bad) == pytest.approx(pairwise_auc(risks, bad))


def test_deciles_riskiest_first_with_ties_kept_together():
    # 20 distinct risks: two accounts per decile, the riskiest pair first.
    risks = list(range(20, 0, -1))
    bad = [i < 3 for i in range(20)]  # the three riskiest went bad
    rows = decile_table(risks, bad, [100 - r for r in risks])
    assert [(r["decile"], r["low"], r["high"], r["accounts"], r["bad"]) for r in rows] == [
        (d, 80 + 2 * d - 2, 80 + 2 * d - 1, 2, 2 if d == 1 else 1 if d == 2 else 0)
        for d in range(1, 11)
    ]
    assert [r["bad_rate"] for r in rows[:3]] == [1.0, 0.5, 0.0]

    # Four accounts, the middle two tied at risk 50: positions 1 and 2, middle 1.5, decile
    # ⌊10 × 1.5 / 4⌋ + 1 = 4; the others land in deciles 1 and 8. None values are counted.
    rows = decile_table([90, 50, 50, 10], [True, True, False, False], [None, 50, 50, 90])
    assert rows == [
        {"decile": 1, "low": None, "high": None, "no_value": 1, "accounts": 1, "bad": 1,
         "bad_rate": 1.0},
        {"decile": 4, "low": 50, "high": 50, "no_value": 0, "accounts": 2, "bad": 1,
         "bad_rate": 0.5},
        {"decile": 8, "low": 90, "high": 90, "no_value": 0, "accounts": 1, "bad": 0,
         "bad_rate": 0.0},
    ]  # fmt: skip


def test_bands_lift_and_confusion_by_hand():
    bands = ["red"] * 4 + ["yellow"] * 5 + ["green"] * 10
    reasons = (
        [("churned",), ("dormant", "fell_by_half"), ("contracted",), ()]  # red: 3 of 4 bad
        + [("fell_by_half",), (), (), (), ()]  # yellow: 1 of 5
        + [("churned",)] + [()] * 9  # green: 1 of 10
    )  # fmt: skip
    table = band_table(bands, reasons)
    assert [(r["band"], r["accounts"], r["bad"], r["bad_rate"]) for r in table] == [
        ("red", 4, 3, 0.75),
        ("yellow", 5, 1, 0.2),
        ("green", 10, 1, 0.1),
    ]
    assert table[0]["reasons"] == {
        "churned": 1,
        "contracted": 1,
        "fell_by_half": 1,
        "dormant": 1,
    }
    assert lift(table) == pytest.approx(7.5)
    assert confusion(bands, [bool(r) for r in reasons]) == {
        "bad": 5,
        "flagged": 9,
        "bad_flagged": 4,
        "bad_missed": 1,
        "false_alarms": 5,
        "quiet_ok": 9,
    }
    # No green account went bad: nothing to divide by.
    assert lift(band_table(["red", "green"], [("churned",), ()])) is None
    assert lift(band_table(["red"], [("churned",)])) is None


def outcome(i: int, score: int, band: str, *reasons: str, days=0, trend=1.0) -> AccountOutcome:
    return AccountOutcome(
        account_id=i,
        external_id=f"a{i}",
        score=score,
        band=band,
        reasons=dict.fromkeys(reasons, "why"),
        days_since_active=days,
        trend_ratio=trend,
    )


def hand_backtest(outcomes: list[AccountOutcome]) -> Backtest:
    return Backtest(
        as_of=AS_OF,
        horizon_days=HORIZON,
        weights=DEFAULT_WEIGHTS,
        green_min=70,
        yellow_min=40,
        outcomes=outcomes,
    )


def test_baselines_rank_the_missing_value_riskiest():
    bt = hand_backtest(
        [
            outcome(1, 80, "green", "dormant", days=None, trend=None),  # never active, no trend
            outcome(2, 20, "red", days=40, trend=0.3),
            outcome(3, 90, "green", days=2, trend=1.2),
            outcome(4, 50, "yellow", "churned", days=5, trend=0.9),
        ]
    )
    days, trend = bt.baselines
    # days: bad {inf, 5} vs good {40, 2}: inf beats both, 5 beats 2 only → 3 of 4
    assert (days.key, days.auc) == ("days_since_active", 0.75)
    # trend risk = −ratio: bad {inf, −0.9} vs good {−0.3, −1.2}: 3 of 4
    assert (trend.key, trend.auc) == ("usage_trend", 0.75)
    # model risk 100 − score: bad {20, 50} vs good {80, 10}: 20>10, 50>10 → 2 of 4
    assert bt.model.auc == 0.5
    assert bt.beats_by(days) == pytest.approx(-0.25)
    assert days.deciles[0]["no_value"] == 1


def test_compare_wording_more_fewer_same():
    book = [
        outcome(1, 80, "green", "churned"),
        outcome(2, 80, "green", "dormant"),
        outcome(3, 80, "green", "churned"),
        outcome(4, 80, "green"),
        outcome(5, 80, "green"),
    ]
    current = hand_backtest(book)
    draft = hand_backtest(
        [
            outcome(1, 30, "red", "churned"),
            outcome(2, 50, "yellow", "dormant"),
            outcome(3, 80, "green", "churned"),
            outcome(4, 30, "red"),
            outcome(5, 80, "green"),
        ]
    )
    assert backtest_compare(current, draft) == (
        "This draft would have flagged 2 more of the 3 accounts that churned or went dormant, "
        "and 1 more false alarm (2 flagged and 1 false alarms, against 0 and 0)."
    )
    assert backtest_compare(draft, current) == (
        "This draft would have flagged 2 fewer of the 3 accounts that churned or went dormant, "
        "and 1 fewer false alarm (0 flagged and 0 false alarms, against 2 and 1)."
    )
    assert backtest_compare(current, current) == (
        "This draft would have flagged the same 0 of the 3 accounts that churned or went "
        "dormant, and the same number of false alarms (0 flagged and 0 false alarms, "
        "against 0 and 0)."
    )
    quiet = hand_backtest([outcome(1, 80, "green"), outcome(2, 80, "green")])
    louder = hand_backtest([outcome(1, 30, "red"), outcome(2, 30, "red")])
    assert backtest_compare(quiet, louder) == (
        "No account churned, contracted, fell by half or went dormant in the 60 days after "
        "2026-03-01, so this draft would only change the false alarms: 2 more false alarms "
        "(2 against 0)."
    )
    with pytest.raises(ValueError, match="same book"):
        backtest_compare(current, quiet)


# --- the hand-built book -----------------------------------------------------------------------


def span(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def rows(account: str, metric: str, values: dict[date, float]) -> list[dict]:
    return [
        {"account": account, "date": d.isoformat(), "metric": metric, "value": v}
        for d, v in values.items()
    ]


def steady(until: date = THROUGH, value: float = 100.0) -> dict[date, float]:
    return dict.fromkeys(span(FIRST, until), value)


# Expected outcome per account (what each one demonstrates).
EXPECTED = {
    "steady": set(),  # contract runs past the horizon, usage flat
    "churner": {"churned"},  # contract ends 2026-03-31, nothing after it
    "late-renewal": {"churned"},  # successor starts 31 days after the end
    "on-time-renewal": set(),  # near miss: successor starts exactly 30 days after the end
    "contractor": {"contracted"},  # renewed the next day at a lower ARR
    "halver": {"fell_by_half"},  # last 28 days at exactly 50 % of the 28 before as_of
    "near-halver": set(),  # near miss: 51 %
    "dormant": {"dormant"},  # queries only; the last on 2026-03-31, 30 days before the end
    "near-dormant": set(),  # near miss: the last on 2026-04-01, inside the last 30 days
    "long-quiet": set(),  # near miss: last active 90 days before as_of, not within 90
}


@pytest.fixture
def book(db, eager_celery):
    # Two saved versions: the default one, then one that weighs the usage trend alone (the
    # current model, so the default of the command and the API).
    health_model_current()
    health_model_create(
        weights={"usage_trend": 100}, green_min=70, yellow_min=40, note="trend", created_by=None
    )
    accounts = {key: AccountFactory(external_id=key, name=key.title()) for key in EXPECTED}

    def contract(key, start, end, arr=100000):
        ContractFactory(account=accounts[key], start=start, end=end, arr=Decimal(arr))

    contract("steady", date(2026, 1, 1), date(2026, 12, 31))
    contract("churner", date(2025, 4, 1), date(2026, 3, 31))
    contract("late-renewal", date(2025, 4, 10), date(2026, 4, 9))
    contract("late-renewal", date(2026, 5, 10), date(2027, 5, 9))
    contract("on-time-renewal", date(2025, 4, 10), date(2026, 4, 9))
    contract("on-time-renewal", date(2026, 5, 9), date(2027, 5, 8), arr=120000)
    contract("contractor", date(2025, 4, 15), date(2026, 4, 14))
    contract("contractor", date(2026, 4, 15), date(2027, 4, 14), arr=80000)

    end_window = THROUGH - timedelta(days=27)  # 2026-04-03: the horizon's last 28 days
    usage = []
    for key in ("steady", "churner", "late-renewal", "on-time-renewal", "contractor"):
        usage += rows(key, "units", steady())
    usage += rows(
        "halver", "units", {d: (50.0 if d >= end_window else 100.0) for d in span(FIRST, THROUGH)}
    )
    usage += rows(
        "near-halver",
        "units",
        {d: (51.0 if d >= end_window else 100.0) for d in span(FIRST, THROUGH)},
    )
    usage += rows("dormant", "queries", steady(until=date(2026, 3, 31), value=10))
    usage += rows("near-dormant", "queries", steady(until=date(2026, 4, 1), value=10))
    usage += rows("long-quiet", "queries", steady(until=AS_OF - timedelta(days=90), value=10))
    result = run_import("usage", json_rows=usage)
    assert result.ok, result.errors[:3]
    return accounts


def run_book(**kwargs) -> Backtest:
    model = backtest_model()
    return backtest_run(
        as_of=kwargs.pop("as_of", AS_OF),
        horizon_days=kwargs.pop("horizon_days", HORIZON),
        weights=model.weights,
        green_min=model.green_min,
        yellow_min=model.yellow_min,
        **kwargs,
    )


def test_each_outcome_rule_fires_and_near_misses_do_not(book):
    bt = run_book()

    got = {o.external_id: set(o.reasons) for o in bt.outcomes}
    assert got == EXPECTED
    reasons = {o.external_id: o.reasons for o in bt.outcomes}
    assert reasons["churner"] == {
        "churned": "contract 2025-04-01 to 2026-03-31 (ARR 100,000) not renewed within 30 days "
        "of its end"
    }
    assert reasons["contractor"] == {
        "contracted": "renewed from 2026-04-15 at ARR 80,000, down from 100,000"
    }
    assert reasons["halver"]["fell_by_half"].startswith("50 units/day in the 28 days to 2026-04-30")
    assert reasons["dormant"] == {
        "dormant": "no activity in the 30 days to 2026-04-30 (last active 2026-03-31)"
    }
    assert bt.reasons == {"churned": 2, "contracted": 1, "fell_by_half": 1, "dormant": 1}
    assert (bt.accounts, bt.bad) == (10, 5)


def test_baseline_inputs_come_from_as_of(book):
    bt = run_book()
    by_key = {o.external_id: o for o in bt.outcomes}
    assert by_key["steady"].days_since_active == 0
    assert by_key["long-quiet"].days_since_active == 90
    assert by_key["dormant"].trend_ratio is None  # queries only: no units, no trend
    assert by_key["steady"].trend_ratio == pytest.approx(1.0)


def test_auc_and_band_rates_match_a_hand_calculation_from_the_scores(book):
    bt = run_book()

    scores = [o.score for o in bt.outcomes]
    bad = [bool(EXPECTED[o.external_id]) for o in bt.outcomes]
    assert bt.model.auc == pytest.approx(pairwise_auc([100 - s for s in scores], bad))
    assert bt.baselines[0].auc == pytest.approx(
        pairwise_auc(
            [1e9 if o.days_since_active is None else o.days_since_active for o in bt.outcomes],
            bad,
        )
    )
    for row in bt.bands:
        members = [b for o, b in zip(bt.outcomes, bad, strict=True) if o.band == row["band"]]
        assert row["accounts"] == len(members)
        assert row["bad"] == sum(members)
        assert row["bad_rate"] == (sum(members) / len(members) if members else None)
    flagged_bad = sum(1 for o, b in zip(bt.outcomes, bad, strict=True) if b and o.band != "green")
    assert bt.confusion["bad_flagged"] == flagged_bad
    assert bt.confusion["bad_missed"] == 5 - flagged_bad
    assert sum(r["accounts"] for r in bt.model.deciles) == 10


def test_a_backtest_writes_nothing(book):
    before, snapshots, alerts = (
        table_counts(),
        HealthSnapshot.objects.count(),
        Alert.objects.count(),
    )

    run_book()
    call_command("backtest_health", "--as-of", "2026-03-01", "--horizon", "60", stdout=StringIO())

    assert HealthSnapshot.objects.count() == snapshots
    assert Alert.objects.count() == alerts
    assert table_counts() == before


def test_no_saved_model_backtests_the_default_without_saving_it(db):
    model = backtest_model()
    assert model.pk is None and model.version is None
    assert model.weights == DEFAULT_WEIGHTS
    assert HealthModel.objects.count() == 0


def test_the_number_of_queries_does_not_grow_with_the_book(book):
    ids = [a.pk for a in book.values()]
    with CaptureQueriesContext(connection) as two:
        run_book(account_ids=ids[:2])
    with CaptureQueriesContext(connection) as everyone:
        run_book()
    assert len(everyone) == len(two)


def test_a_scoped_backtest_judges_only_those_accounts(book):
    bt = run_book(account_ids=[book["churner"].pk, book["steady"].pk])
    assert {o.external_id: set(o.reasons) for o in bt.outcomes} == {
        "churner": {"churned"},
        "steady": set(),
    }


def test_an_unobserved_horizon_is_refused_naming_the_latest_as_of(book):
    with pytest.raises(ValueError) as exc:
        run_book(as_of=AS_OF + timedelta(days=1))
    assert str(exc.value) == (
        "a 60-day horizon from 2026-03-02 runs to 2026-05-01, but usage has landed only "
        "through 2026-04-30: the latest as_of this data allows for a 60-day horizon is "
        "2026-03-01"
    )
    with pytest.raises(ValueError, match="the horizon must be 30 to 730 days"):
        run_book(horizon_days=29)


def test_no_usage_landed_is_refused(db):
    with pytest.raises(ValueError, match="no usage has landed yet"):
        run_book()
    usage_landed(THROUGH)
    assert run_book().accounts == 0


# --- the command -------------------------------------------------------------------------------


def test_command_prints_the_figures(book):
    bt = run_book()
    out = StringIO()

    call_command("backtest_health", "--as-of", "2026-03-01", "--horizon", "60", stdout=out)

    text = out.getvalue()
    version = HealthModel.objects.order_by("-version").first().version
    assert text.startswith(
        f"Backtest of health model v{version} as of 2026-03-01; outcomes over the next 60 days "
        "(to 2026-04-30).\nBook: 10 accounts scored on 2026-03-01.\n"
        "Went bad: 5 of 10 (50%): 2 churned, 1 contracted, 1 fell by half, 1 went dormant"
    )
    assert f"  health score               {bt.model.auc:.3f}\n" in text
    days = bt.baselines[0]
    diff = bt.beats_by(days)
    verdict = (
        "the model ties it"
        if round(diff, 3) == 0
        else f"the model beats it by {diff:.3f}"
        if diff > 0
        else f"the model loses to it by {-diff:.3f}"
    )
    assert f"  days since last activity   {days.auc:.3f}   {verdict}\n" in text
    for row in bt.bands:
        rate = "—" if row["bad_rate"] is None else f"{row['bad_rate']:.0%}"
        noun = "account " if row["accounts"] == 1 else "accounts"
        assert f"{row['band']:<7}{row['accounts']:>7,} {noun}  {rate:>4}" in text
    c = bt.confusion
    assert (
        f"of the 5 bad accounts {c['bad_flagged']} {'was' if c['bad_flagged'] == 1 else 'were'} "
        f"flagged and {c['bad_missed']} {'was' if c['bad_missed'] == 1 else 'were'} not; "
        f"{c['false_alarms']} flagged account{'' if c['false_alarms'] == 1 else 's'} did not go "
        "bad (false alarms)." in text
    )
    assert "Calibration by score decile (1 = lowest scores):" in text
    first = bt.model.deciles[0]
    assert f"{first['accounts']:>9,}{first['bad']:>6,}" in text


def test_command_backtests_the_version_asked_for(book):
    out = StringIO()
    call_command(
        "backtest_health", "--as-of", "2026-03-01", "--horizon", "60", "--model", "1", stdout=out
    )
    v1 = HealthModel.objects.get(version=1)
    bt = backtest_run(
        as_of=AS_OF,
        horizon_days=HORIZON,
        weights=v1.weights,
        green_min=v1.green_min,
        yellow_min=v1.yellow_min,
    )
    assert out.getvalue().startswith("Backtest of health model v1 as of 2026-03-01;")
    assert f"  health score               {bt.model.auc:.3f}\n" in out.getvalue()


def test_command_rejects_bad_dates_unknown_models_and_unobserved_horizons(book):
    def fails(*args) -> str:
        with pytest.raises(CommandError) as exc:
            call_command("backtest_health", *args, stdout=StringIO())
        return str(exc.value)

    assert fails("--as-of", "2026-02-30", "--horizon", "60") == (
        "--as-of '2026-02-30' is not a date in YYYY-MM-DD form"
    )
    assert fails("--as-of", "2026-03-01", "--horizon", "60", "--model", "99").startswith(
        "no health model version 99 (saved versions: "
    )
    assert "the latest as_of this data allows for a 90-day horizon is 2026-01-30" in fails(
        "--as-of", "2026-03-01", "--horizon", "90"
    )


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def auth(alice) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token_create(user=alice)}"}


def test_api_returns_the_backtest(client, auth, book):
    bt = run_book()

    response = client.get(
        "/api/v1/health/backtest", {"as_of": "2026-03-01", "horizon": "60"}, headers=auth
    )

    assert response.status_code == 200
    body = response.json()
    expected = bt.as_dict()
    expected["model_version"] = HealthModel.objects.order_by("-version").first().version
    expected["weights"] = {k: float(v) for k, v in expected["weights"].items()}
    assert body == {**expected, "outcomes": None}
    assert (body["accounts"], body["bad"], body["outcome_through"]) == (10, 5, "2026-04-30")
    assert body["model"]["auc"] == round(bt.model.auc, 4)
    assert [b["key"] for b in body["baselines"]] == ["days_since_active", "usage_trend"]

    with_rows = client.get(
        "/api/v1/health/backtest",
        {"as_of": "2026-03-01", "horizon": "60", "outcomes": "true"},
        headers=auth,
    ).json()
    assert {r["account"]: set(r["reasons"]) for r in with_rows["outcomes"]} == EXPECTED


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"horizon": "60"}, 400, "as_of is required"),
        ({"as_of": "March 1", "horizon": "60"}, 400, "as_of must be a date in YYYY-MM-DD"),
        ({"as_of": "2026-03-01"}, 400, "horizon is required"),
        ({"as_of": "2026-03-01", "horizon": "two months"}, 400, "horizon must be a whole number"),
        ({"as_of": "2026-03-01", "horizon": "7"}, 400, "the horizon must be 30 to 730 days"),
        ({"as_of": "2026-03-02", "horizon": "60"}, 400, "the latest as_of this data allows"),
        ({"as_of": "2026-03-01", "horizon": "60", "model": "v2"}, 400, "model must be a whole"),
        ({"as_of": "2026-03-01", "horizon": "60", "model": "99"}, 404, "no health model version"),
    ],
)
def test_api_refuses_bad_params(client, auth, book, params, status, detail):
    response = client.get("/api/v1/health/backtest", params, headers=auth)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_api_needs_a_token(client, book):
    response = client.get("/api/v1/health/backtest", {"as_of": "2026-03-01", "horizon": "60"})
    assert response.status_code == 401
