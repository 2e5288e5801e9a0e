"""The triggers, their theses and ARR rules, and the pipeline's rules, on hand-built inputs (no
database): each trigger fires on its history and not on a near miss, and the thesis quotes the
numbers it was given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from expansion.rules import (
    DEFAULTS,
    Subject,
    covered,
    evaluate,
    kind_stats,
    move_problem,
    settings_changes,
    won_arr_check,
)
from health.engine import AccountInputs

AS_OF = date(2026, 6, 30)
CFG = dict(DEFAULTS)


def inputs(**values) -> AccountInputs:
    return AccountInputs(account_id=1, tier=2, segment="institution", **values)


def subject(plan: str | None = "developer", arr: float = 120_000, seats: int | None = None):
    return Subject(1, plan, arr, seats)


def kinds(found) -> list[tuple[str, str]]:
    return [(f.kind, f.target) for f in found]


# --- commit upsize -------------------------------------------------------------------------------

PERIOD = {"period_start": date(2026, 1, 1), "period_end": date(2026, 12, 31)}  # 365 days


def test_commit_upsize_fires_and_its_thesis_quotes_the_numbers():
    # 279,000 of 300,000 used (93 %) with 184 days left; 84,000 units in 28 days = 3,000 a day.
    inp = inputs(commit_units=300_000, consumed_in_period=279_000, units_28=84_000, **PERIOD)
    [found] = evaluate(inp, subject(arr=120_000), as_of=AS_OF, cfg=CFG)
    assert (found.kind, found.target) == ("commit_upsize", "period 2026-01-01")
    needed = 279_000 + 3_000 * 184  # 831,000
    assert found.thesis.startswith(
        "Consumed 93 % of 300,000 committed units with 184 days left; at the current run-rate "
        "(3,000 units a day over the last 28 days) they need ~831,000 for the period."
    )
    assert found.arr_potential == pytest.approx(120_000 * (needed / 300_000 - 1), abs=0.01)
    assert found.thesis.count("$") >= 2 and "$212,400" in found.thesis
    assert found.evidence["consumed_share"] == 0.93 and found.evidence["days_left"] == 184


@pytest.mark.parametrize(
    ("consumed", "as_of"),
    [
        (269_700, AS_OF),  # 89.9 % used: just under the line
        (279_000, date(2026, 10, 8)),  # 93 % used, but 84 of 365 days left (23 %)
    ],
)
def test_commit_upsize_does_not_fire_on_a_near_miss(consumed, as_of):
    inp = inputs(commit_units=300_000, consumed_in_period=consumed, units_28=84_000, **PERIOD)
    assert kinds(evaluate(inp, subject(), as_of=as_of, cfg=CFG)) == []


def test_commit_upsize_needs_a_commit():
    inp = inputs(commit_units=None, consumed_in_period=279_000, units_28=84_000, **PERIOD)
    assert evaluate(inp, subject(), as_of=AS_OF, cfg=CFG) == []


# --- upgrades ------------------------------------------------------------------------------------


def test_explorer_heavy_querying_on_20_of_28_days_draws_a_developer_upgrade():
    inp = inputs(active_days_28=20, queries_28=2_400)  # 120 queries per active day
    [found] = evaluate(inp, subject(plan="explorer", arr=6_000), as_of=AS_OF, cfg=CFG)
    assert (found.kind, found.target) == ("upgrade", "developer")
    assert found.thesis.startswith(
        "Active on 20 of the last 28 days with 2,400 queries (120 per active day)"
    )
    assert found.arr_potential == 24_000 - 6_000  # the developer list price minus ARR
    assert found.thesis.endswith(
        "ARR potential $18,000: the developer list price ($24,000) minus current ARR ($6,000)."
    )


@pytest.mark.parametrize(
    ("days", "queries", "plan"),
    [
        (19, 2_400, "explorer"),  # active 19 days: one short
        (20, 1_980, "explorer"),  # 99 queries per active day: not heavy
        (24, 4_000, "developer"),  # already on developer
    ],
)
def test_no_developer_upgrade_on_a_near_miss(days, queries, plan):
    inp = inputs(active_days_28=days, queries_28=queries)
    assert evaluate(inp, subject(plan=plan, arr=6_000), as_of=AS_OF, cfg=CFG) == []


def test_developer_api_calls_tripling_draws_a_datastreams_upgrade():
    inp = inputs(api_calls_28=360_000, api_calls_prev_28=120_000)
    [found] = evaluate(inp, subject(plan="developer", arr=80_000), as_of=AS_OF, cfg=CFG)
    assert (found.kind, found.target) == ("upgrade", "datastreams")
    assert found.thesis.startswith(
        "API calls grew 3.0× (360,000 in the last 28 days against 120,000 in the 28 before)"
    )
    # list price 60,000 is under current ARR: at least 25 % of current ARR
    assert found.arr_potential == 20_000
    assert found.thesis.endswith(
        "ARR potential $20,000: 25 % of current ARR ($80,000), as the datastreams list price "
        "($60,000) leaves less."
    )


@pytest.mark.parametrize(
    ("last", "prior"),
    [(359_000, 120_000), (3_000, 900)],  # 2.99×; 3.3× from under 1,000 calls
)
def test_no_datastreams_upgrade_on_a_near_miss(last, prior):
    inp = inputs(api_calls_28=last, api_calls_prev_28=prior)
    assert evaluate(inp, subject(plan="developer"), as_of=AS_OF, cfg=CFG) == []


# --- breadth -------------------------------------------------------------------------------------


def test_failed_queries_on_a_covered_chain_they_do_not_license_draw_breadth():
    inp = inputs(unlicensed_failures_28=42, unlicensed_target="solana")
    [found] = evaluate(inp, subject(arr=100_000), as_of=AS_OF, cfg=CFG)
    assert (found.kind, found.target) == ("breadth", "solana")
    assert found.thesis.startswith("42 failed queries in the last 28 days on solana, a chain")
    assert found.arr_potential == 15_000


@pytest.mark.parametrize(
    ("failures", "target"),
    [(9, "solana"), (42, "fantom")],  # one failure short; a chain the platform does not cover
)
def test_no_breadth_on_a_near_miss(failures, target):
    inp = inputs(unlicensed_failures_28=failures, unlicensed_target=target)
    assert evaluate(inp, subject(arr=100_000), as_of=AS_OF, cfg=CFG) == []


def test_a_chain_never_queried_before_draws_breadth():
    inp = inputs(chains_90=4, chains_before_28=3)
    [found] = evaluate(inp, subject(arr=100_000), as_of=AS_OF, cfg=CFG)
    assert (found.kind, found.target) == ("breadth", "new chains")
    assert found.thesis.startswith(
        "Queried 1 chain in the last 28 days that they had not queried in the 62 days before "
        "(4 chains in 90 days, up from 3)"
    )
    # the same chains as before, or a brand-new account: nothing
    assert evaluate(inputs(chains_90=3, chains_before_28=3), subject(), as_of=AS_OF, cfg=CFG) == []
    assert evaluate(inputs(chains_90=2, chains_before_28=0), subject(), as_of=AS_OF, cfg=CFG) == []


def test_datasets_are_covered_by_their_chain_and_crosschain_always():
    assert covered("ethereum.raw.logs", DEFAULTS["covered_chains"])
    assert covered("crosschain.dex.trades", DEFAULTS["covered_chains"])
    assert not covered("fantom.raw.blocks", DEFAULTS["covered_chains"])


# --- seats ---------------------------------------------------------------------------------------


def test_peak_users_at_the_seats_draws_seats():
    inp = inputs(peak_users_28=12)
    [found] = evaluate(inp, subject(arr=100_000, seats=10), as_of=AS_OF, cfg=CFG)
    assert (found.kind, found.target) == ("seats", "seats")
    assert found.thesis.startswith(
        "Peak of 12 active users in the last 28 days on 10 seats (120 %)"
    )
    # 2 over, and 20 % headroom is 2 seats: 2 × $10,000
    assert found.arr_potential == 20_000 and "2 more seats at $10,000 a seat" in found.thesis


def test_no_seats_one_user_short_or_without_seats_or_worth_nothing():
    assert evaluate(inputs(peak_users_28=9), subject(seats=10), as_of=AS_OF, cfg=CFG) == []
    assert evaluate(inputs(peak_users_28=9), subject(seats=None), as_of=AS_OF, cfg=CFG) == []
    # a free account's seats: $0 of ARR potential is no opportunity
    assert evaluate(inputs(peak_users_28=4), subject(arr=0, seats=4), as_of=AS_OF, cfg=CFG) == []


def test_a_trigger_switched_off_draws_nothing():
    inp = inputs(peak_users_28=12)
    off = CFG | {"seats_on": False}
    assert evaluate(inp, subject(seats=10), as_of=AS_OF, cfg=off) == []


def test_settings_changes_say_what_changed():
    new = CFG | {"seats_on": False, "commit_consumed_min": 0.85}
    assert settings_changes(CFG, new) == [
        "Share of commit consumed: 0.9 → 0.85",
        "Seats trigger on: on → off",
    ]


# --- the pipeline --------------------------------------------------------------------------------


def test_move_rules():
    ok = {"has_ae": True, "won_arr": None, "lost_reason": ""}
    assert move_problem(current="identified", to="qualified", **ok) == ""
    assert "no AE" in move_problem(current="qualified", to="handed_off", **ok | {"has_ae": False})
    assert "cannot move from identified to won" in move_problem(
        current="identified", to="won", **ok
    )
    assert "how much ARR" in move_problem(current="handed_off", to="won", **ok)
    assert move_problem(current="handed_off", to="won", **ok | {"won_arr": 5.0}) == ""
    assert "reason" in move_problem(current="qualified", to="lost", **ok)
    assert "stays closed" in move_problem(
        current="lost", to="qualified", **ok | {"lost_reason": "x"}
    )


def test_win_rate_and_days_in_stage_per_kind():
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    d = timedelta(days=1)
    changes = [
        (1, "seats", "identified", t0),
        (1, "seats", "qualified", t0 + 2 * d),
        (1, "seats", "handed_off", t0 + 6 * d),
        (1, "seats", "won", t0 + 10 * d),
        (2, "seats", "identified", t0),
        (2, "seats", "lost", t0 + 4 * d),
        (3, "upgrade", "identified", t0 + 10 * d),
    ]
    opps = [("seats", "won", 30_000), ("seats", "lost", None), ("upgrade", "identified", None)]
    stats = kind_stats(opps, changes, now=t0 + 20 * d)
    seats = stats["seats"]
    assert (seats.won, seats.lost, seats.win_rate, seats.won_arr) == (1, 1, 0.5, 30_000)
    assert seats.days_in_stage == {"identified": 3.0, "qualified": 4.0, "handed_off": 4.0}
    assert stats["upgrade"].win_rate is None
    assert stats["upgrade"].days_in_stage == {"identified": 10.0}


def test_won_arr_is_checked_against_the_next_contract():
    start = date(2027, 1, 1)
    confirmed = won_arr_check(won_arr=40_000, arr_before=100_000, next_contract=(start, 145_000))
    assert confirmed.status == "confirmed"
    assert confirmed.text == (
        "In the contract from 2027-01-01: ARR $100,000 → $145,000 (+$45,000, $40,000 won)."
    )
    short = won_arr_check(won_arr=40_000, arr_before=100_000, next_contract=(start, 120_000))
    assert short.status == "short" and "adds $20,000 of the $40,000 won" in short.text
    assert won_arr_check(won_arr=1, arr_before=0, next_contract=None).status == "pending"
