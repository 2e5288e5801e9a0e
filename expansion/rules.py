"""The expansion triggers, their thesis and ARR rules, and the pipeline's stage rules: pure
decisions over one account's aggregates (health's `AccountInputs`), no database.

Triggers (defaults; a manager edits them, every version is kept):
- `commit_upsize`: at least 90 % of the period's commit consumed with more than 25 % of the
  period left. ARR potential: the run-rate overage priced at the contract's unit price,
  annualised: ARR × (units needed for the period ÷ commit − 1).
- `upgrade` to developer: an explorer account active on at least 20 of the last 28 days with
  heavy, repeated querying (at least 100 queries per active day). ARR potential: the developer
  plan's list ARR minus current ARR, and at least 25 % of current ARR.
- `upgrade` to datastreams: a developer account whose API calls grew at least 3× (last 28 days
  against the 28 before, from at least 1,000 calls). ARR potential: as above, with the
  datastreams list ARR.
- `breadth`: at least 10 failed queries in 28 days on a chain or dataset their licence lacks
  (`chain_not_covered`, `dataset_not_found`) that the platform covers (the covered-chains
  list), target that chain or dataset; or at least one chain queried in the last 28 days that
  they had not queried in the 62 days before. ARR potential: 15 % of current ARR.
- `seats`: peak active users in 28 days at or above the seats. ARR potential: the seats needed
  (the overflow, and at least 20 % more seats) at the current price per seat.
No trigger draws an opportunity worth less than $1,000 of ARR potential (a free account's seats
are worth nothing to sell).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from health.engine import AccountInputs

from .models import OPEN_STAGES, OpportunityKind, Stage

PLATFORM_CHAINS = (
    "ethereum base arbitrum optimism polygon polygon_zkevm bsc avalanche tron zksync scroll "
    "linea blast mantle celo gnosis unichain worldchain zora berachain sonic abstract apechain "
    "hyperevm monad plasma starknet solana bitcoin dogecoin litecoin hyperliquid sui aptos near "
    "stellar cosmos osmosis injective dydx celestia ton hedera"
)
# Dataset prefixes that span chains: always covered.
CROSS_CHAIN = ("crosschain", "common")

# The probability each stage closes as won: the board's weighted sums.
STAGE_PROBABILITY = {
    Stage.IDENTIFIED: 0.1,
    Stage.QUALIFIED: 0.3,
    Stage.HANDED_OFF: 0.6,
    Stage.WON: 1.0,
    Stage.LOST: 0.0,
}
# Which moves the pipeline allows: forward one step or more, back one step, and lost from any
# open stage; won only after the hand-off. A closed opportunity stays closed.
MOVES = {
    Stage.IDENTIFIED: (Stage.QUALIFIED, Stage.HANDED_OFF, Stage.LOST),
    Stage.QUALIFIED: (Stage.IDENTIFIED, Stage.HANDED_OFF, Stage.LOST),
    Stage.HANDED_OFF: (Stage.QUALIFIED, Stage.WON, Stage.LOST),
    Stage.WON: (),
    Stage.LOST: (),
}


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    kind: str  # "bool", "float", "int", "money", "share", "text"
    default: Any
    low: float | None = None
    high: float | None = None
    trigger: str = ""  # the trigger it belongs to ("" for rules shared by all)


SETTINGS: tuple[Setting, ...] = (
    Setting("commit_upsize_on", "Commit upsize trigger on", "bool", True, trigger="commit_upsize"),
    Setting(
        "commit_consumed_min", "Share of commit consumed", "share", 0.9, 0.5, 1.5, "commit_upsize"
    ),
    Setting(
        "commit_left_min",
        "Share of the period still left (more than)",
        "share",
        0.25,
        0,
        0.9,
        "commit_upsize",
    ),
    Setting(
        "upgrade_developer_on",
        "Explorer → developer trigger on",
        "bool",
        True,
        trigger="upgrade_developer",
    ),
    Setting(
        "explorer_active_days_min",
        "Active days of the last 28",
        "int",
        20,
        1,
        28,
        "upgrade_developer",
    ),
    Setting(
        "explorer_queries_per_day_min",
        "Queries per active day (heavy querying)",
        "float",
        100,
        1,
        1e6,
        "upgrade_developer",
    ),
    Setting(
        "developer_list_arr",
        "Developer plan list ARR (USD)",
        "money",
        24000,
        0,
        1e9,
        "upgrade_developer",
    ),
    Setting(
        "upgrade_datastreams_on",
        "Developer → datastreams trigger on",
        "bool",
        True,
        trigger="upgrade_datastreams",
    ),
    Setting(
        "api_growth_min",
        "API call growth, 28 days vs the 28 before (×)",
        "float",
        3.0,
        1.1,
        100,
        "upgrade_datastreams",
    ),
    Setting(
        "api_prior_min",
        "API calls in the earlier 28 days, at least",
        "int",
        1000,
        0,
        1e12,
        "upgrade_datastreams",
    ),
    Setting(
        "datastreams_list_arr",
        "Datastreams plan list ARR (USD)",
        "money",
        60000,
        0,
        1e9,
        "upgrade_datastreams",
    ),
    Setting(
        "upgrade_uplift_min",
        "Upgrade ARR potential, at least this share of current ARR",
        "share",
        0.25,
        0,
        5,
    ),
    Setting("breadth_on", "Breadth trigger on", "bool", True, trigger="breadth"),
    Setting(
        "breadth_failures_min",
        "Failed queries on an unlicensed chain or dataset (28 days)",
        "int",
        10,
        1,
        1e9,
        "breadth",
    ),
    Setting(
        "breadth_new_chains_min",
        "New chains queried in the last 28 days",
        "int",
        1,
        1,
        100,
        "breadth",
    ),
    Setting(
        "breadth_uplift",
        "Breadth ARR potential, share of current ARR",
        "share",
        0.15,
        0,
        5,
        "breadth",
    ),
    Setting(
        "covered_chains",
        "Chains the platform covers (space-separated)",
        "text",
        PLATFORM_CHAINS,
        trigger="breadth",
    ),
    Setting("seats_on", "Seats trigger on", "bool", True, trigger="seats"),
    Setting("seats_share_min", "Peak active users ÷ seats", "share", 1.0, 0.5, 5, "seats"),
    Setting(
        "seats_headroom",
        "Seats to propose beyond the peak, share of seats (at least)",
        "share",
        0.2,
        0,
        5,
        "seats",
    ),
    Setting(
        "arr_potential_min",
        "Draw an opportunity only from this ARR potential (USD)",
        "money",
        1000,
        0,
        1e9,
    ),
    Setting(
        "draw_on_red",
        "Draw opportunities on accounts whose health is red (off: a save comes before an upsell)",
        "bool",
        False,
    ),
    Setting(
        "reopen_after_days",
        "Days before a won or lost opportunity can be drawn again",
        "int",
        90,
        0,
        3650,
    ),
)
SETTING_KEYS = tuple(s.key for s in SETTINGS)
DEFAULTS: dict[str, Any] = {s.key: s.default for s in SETTINGS}
TRIGGERS = {
    "commit_upsize": "Commit upsize",
    "upgrade_developer": "Upgrade: explorer → developer",
    "upgrade_datastreams": "Upgrade: developer → datastreams",
    "breadth": "Breadth: chains and datasets",
    "seats": "Seats",
}


def settings_with_defaults(values: dict | None) -> dict[str, Any]:
    """A stored version's values over the defaults (a key added later reads its default)."""
    return DEFAULTS | {k: v for k, v in (values or {}).items() if k in DEFAULTS}


def settings_changes(old: dict, new: dict) -> list[str]:
    """What a new version changed, in words ("Seats trigger on: yes → no")."""
    labels = {s.key: s for s in SETTINGS}
    out = []
    for key in SETTING_KEYS:
        before, after = old.get(key, DEFAULTS[key]), new.get(key, DEFAULTS[key])
        if before != after:
            out.append(f"{labels[key].label}: {_setting_text(before)} → {_setting_text(after)}")
    return out


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value if len(value) <= 40 else value[:37] + "…"
    return f"{value:g}"


@dataclass(frozen=True)
class Subject:
    """What a trigger knows about the account beyond its usage aggregates."""

    account_id: int
    plan: str | None
    arr: float
    seats: int | None


@dataclass
class Finding:
    """A trigger holding on one account: the opportunity it draws or refreshes."""

    account_id: int
    kind: str
    target: str
    thesis: str
    evidence: dict
    arr_potential: float

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.account_id, self.kind, self.target)


def n(value: float) -> str:
    """A number as a thesis writes it: 480,000; 1.5; 93."""
    if abs(value - round(value)) < 1e-9 or abs(value) >= 100:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def money(value: float) -> str:
    return f"${round(value):,}"


def pct(share: float) -> str:
    return f"{math.floor(share * 100 + 1e-9):,} %" if share < 10 else f"{round(share * 100):,} %"


def evaluate(inp: AccountInputs, subject: Subject, *, as_of: date, cfg: dict) -> list[Finding]:
    """Every trigger that holds for one account on `as_of`, with its thesis and ARR potential."""
    found: list[Finding | None] = []
    if cfg["commit_upsize_on"]:
        found.append(commit_upsize(inp, subject, as_of=as_of, cfg=cfg))
    if cfg["upgrade_developer_on"]:
        found.append(upgrade_developer(inp, subject, cfg=cfg))
    if cfg["upgrade_datastreams_on"]:
        found.append(upgrade_datastreams(inp, subject, cfg=cfg))
    if cfg["breadth_on"]:
        found += breadth(inp, subject, cfg=cfg)
    if cfg["seats_on"]:
        found.append(seats(inp, subject, cfg=cfg))
    return [f for f in found if f is not None and f.arr_potential >= cfg["arr_potential_min"]]


def commit_upsize(
    inp: AccountInputs, subject: Subject, *, as_of: date, cfg: dict
) -> Finding | None:
    commit, start, end = inp.commit_units, inp.period_start, inp.period_end
    if not commit or not start or not end or end < as_of:
        return None
    share = inp.consumed_in_period / commit
    period_days = (end - start).days + 1
    days_left = (end - as_of).days
    left_share = days_left / period_days
    if share < cfg["commit_consumed_min"] or left_share <= cfg["commit_left_min"]:
        return None
    daily = inp.units_28 / 28
    needed = inp.consumed_in_period + daily * days_left
    arr = subject.arr * max(needed / commit - 1, 0)
    thesis = (
        f"Consumed {pct(share)} of {n(commit)} committed units with {n(days_left)} days left; "
        f"at the current run-rate ({n(daily)} units a day over the last 28 days) they need "
        f"~{n(round(needed, -3) if needed >= 10_000 else needed)} for the period. "
        f"ARR potential {money(arr)}: the overage at their unit price "
        f"({money(subject.arr)} ARR × ({needed / commit:.2f} − 1), annualised)."
    )
    return Finding(
        subject.account_id,
        OpportunityKind.COMMIT_UPSIZE,
        f"period {start.isoformat()}",
        thesis,
        {
            "trigger": "commit_upsize",
            "consumed": round(inp.consumed_in_period, 1),
            "commit": commit,
            "consumed_share": round(share, 4),
            "days_left": days_left,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "daily_run_rate": round(daily, 1),
            "needed_for_period": round(needed, 1),
            "chart": "burn_up",
        },
        round(arr, 2),
    )


def _upgrade_arr(subject: Subject, plan: str, cfg: dict) -> tuple[float, str]:
    """The upgrade's ARR potential and the rule, in words: the next plan's list ARR minus
    current ARR, and at least `upgrade_uplift_min` of current ARR."""
    list_arr = cfg[f"{plan}_list_arr"]
    floor = subject.arr * cfg["upgrade_uplift_min"]
    if list_arr - subject.arr >= floor:
        return list_arr - subject.arr, (
            f"the {plan} list price ({money(list_arr)}) minus current ARR ({money(subject.arr)})"
        )
    return floor, (
        f"{pct(cfg['upgrade_uplift_min'])} of current ARR ({money(subject.arr)}), as the {plan} "
        f"list price ({money(list_arr)}) leaves less"
    )


def upgrade_developer(inp: AccountInputs, subject: Subject, *, cfg: dict) -> Finding | None:
    if subject.plan != "explorer" or inp.active_days_28 < cfg["explorer_active_days_min"]:
        return None
    per_day = inp.queries_28 / inp.active_days_28
    if per_day < cfg["explorer_queries_per_day_min"]:
        return None
    arr, rule = _upgrade_arr(subject, "developer", cfg)
    thesis = (
        f"Active on {inp.active_days_28} of the last 28 days with {n(inp.queries_28)} queries "
        f"({n(per_day)} per active day): the same queries, rerun by hand, belong on the developer "
        f"API. ARR potential {money(arr)}: {rule}."
    )
    return Finding(
        subject.account_id,
        OpportunityKind.UPGRADE,
        "developer",
        thesis,
        {
            "trigger": "upgrade_developer",
            "active_days_28": inp.active_days_28,
            "queries_28": inp.queries_28,
            "queries_per_active_day": round(per_day, 1),
            "chart": "queries",
        },
        round(arr, 2),
    )


def upgrade_datastreams(inp: AccountInputs, subject: Subject, *, cfg: dict) -> Finding | None:
    prior, last = inp.api_calls_prev_28, inp.api_calls_28
    if subject.plan != "developer" or prior < max(cfg["api_prior_min"], 1):
        return None
    growth = last / prior
    if growth < cfg["api_growth_min"]:
        return None
    arr, rule = _upgrade_arr(subject, "datastreams", cfg)
    thesis = (
        f"API calls grew {growth:.1f}× ({n(last)} in the last 28 days against {n(prior)} in the "
        f"28 before): polling at this rate is a real-time feed, which is datastreams. ARR "
        f"potential {money(arr)}: {rule}."
    )
    return Finding(
        subject.account_id,
        OpportunityKind.UPGRADE,
        "datastreams",
        thesis,
        {
            "trigger": "upgrade_datastreams",
            "api_calls_28": last,
            "api_calls_prev_28": prior,
            "growth": round(growth, 2),
            "chart": "api_calls",
        },
        round(arr, 2),
    )


def covered(target: str, chains: str) -> bool:
    """Whether the platform covers a chain, or the chain of a `chain.schema.table` dataset."""
    chain = target.split(".", 1)[0].strip().lower()
    return chain in CROSS_CHAIN or chain in set(chains.split())


def breadth(inp: AccountInputs, subject: Subject, *, cfg: dict) -> list[Finding]:
    found = []
    arr = round(subject.arr * cfg["breadth_uplift"], 2)
    failures, target = inp.unlicensed_failures_28, inp.unlicensed_target
    if (
        target
        and failures >= cfg["breadth_failures_min"]
        and covered(target, cfg["covered_chains"])
    ):
        what = "dataset" if "." in target else "chain"
        found.append(
            Finding(
                subject.account_id,
                OpportunityKind.BREADTH,
                target,
                f"{n(failures)} failed queries in the last 28 days on {target}, a {what} the "
                f"platform covers but their licence does not: they are already asking for it. "
                f"ARR potential {money(arr)} ({pct(cfg['breadth_uplift'])} of "
                f"{money(subject.arr)} ARR).",
                {
                    "trigger": "breadth_unlicensed",
                    "failed_queries_28": failures,
                    "target": target,
                    "chart": "failed_queries",
                },
                arr,
            )
        )
    new = inp.chains_90 - inp.chains_before_28
    if inp.chains_before_28 > 0 and new >= cfg["breadth_new_chains_min"]:
        found.append(
            Finding(
                subject.account_id,
                OpportunityKind.BREADTH,
                "new chains",
                f"Queried {n(new)} chain{'s' if new != 1 else ''} in the last 28 days that they "
                f"had not queried in the 62 days before ({n(inp.chains_90)} chains in 90 days, "
                f"up from {n(inp.chains_before_28)}): their use is spreading across chains. "
                f"ARR potential {money(arr)} ({pct(cfg['breadth_uplift'])} of "
                f"{money(subject.arr)} ARR).",
                {
                    "trigger": "breadth_new_chains",
                    "new_chains": new,
                    "chains_90": inp.chains_90,
                    "chains_before_28": inp.chains_before_28,
                    "chart": "units_chain",
                },
                arr,
            )
        )
    return found


def seats(inp: AccountInputs, subject: Subject, *, cfg: dict) -> Finding | None:
    have = subject.seats
    if not have or inp.peak_users_28 < have * cfg["seats_share_min"]:
        return None
    peak = inp.peak_users_28
    extra = max(math.ceil(peak - have), math.ceil(have * cfg["seats_headroom"]), 1)
    per_seat = subject.arr / have
    arr = extra * per_seat
    return Finding(
        subject.account_id,
        OpportunityKind.SEATS,
        "seats",
        f"Peak of {n(peak)} active users in the last 28 days on {n(have)} seats "
        f"({pct(peak / have)}): more teams want in. ARR potential {money(arr)}: {n(extra)} more "
        f"seat{'s' if extra != 1 else ''} at {money(per_seat)} a seat.",
        {
            "trigger": "seats",
            "peak_users_28": peak,
            "seats": have,
            "extra_seats": extra,
            "chart": "users",
        },
        round(arr, 2),
    )


# --- the pipeline ------------------------------------------------------------------------------


def move_problem(
    *, current: str, to: str, has_ae: bool, won_arr: float | None, lost_reason: str
) -> str:
    """Why an opportunity cannot move from `current` to `to` ("" when it can)."""
    if to == current:
        return f"It is already {Stage(current).label.lower()}."
    if to not in MOVES.get(current, ()):
        if current not in OPEN_STAGES:
            return f"It is {Stage(current).label.lower()}: a closed opportunity stays closed."
        return f"It cannot move from {Stage(current).label.lower()} to {Stage(to).label.lower()}."
    if to == Stage.HANDED_OFF and not has_ae:
        return "The account has no AE to hand it to; assign one first."
    if to == Stage.WON and (won_arr is None or won_arr <= 0):
        return "Say how much ARR was won (more than 0)."
    if to == Stage.LOST and not lost_reason:
        return "Pick the reason it was lost."
    return ""


@dataclass
class KindStats:
    kind: str
    won: int = 0
    lost: int = 0
    won_arr: float = 0.0
    days_in_stage: dict | None = None  # stage → average days spent there
    label: str = ""

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


def kind_stats(
    opportunities: Iterable[tuple[str, str, float | None]],
    changes: Iterable[tuple[int, str, str, datetime]],
    *,
    now: datetime,
) -> dict[str, KindStats]:
    """Win rate and average time in each stage, per kind.

    `opportunities`: (kind, stage, won_arr); `changes`: (opportunity id, kind, to_stage,
    changed_at) in time order per opportunity. Time in a stage runs from entering it to the
    next change (to now while it sits there); closed stages are not timed."""
    stats = {k: KindStats(k, days_in_stage={}) for k in OpportunityKind.values}
    for kind, stage, won_arr in opportunities:
        s = stats[kind]
        if stage == Stage.WON:
            s.won += 1
            s.won_arr += float(won_arr or 0)
        elif stage == Stage.LOST:
            s.lost += 1
    spans: dict[tuple[str, str], list[float]] = {}
    last: dict[int, tuple[str, str, datetime]] = {}
    for opp_id, kind, to_stage, at in changes:
        if opp_id in last:
            k, stage, since = last[opp_id]
            spans.setdefault((k, stage), []).append((at - since).total_seconds() / 86400)
        last[opp_id] = (kind, to_stage, at)
    for k, stage, since in last.values():
        if stage in OPEN_STAGES:
            spans.setdefault((k, stage), []).append((now - since).total_seconds() / 86400)
    for (k, stage), days in spans.items():
        if stage in OPEN_STAGES:
            stats[k].days_in_stage[stage] = sum(days) / len(days)
    return stats


def weighted(stage: str, arr: float) -> float:
    return arr * STAGE_PROBABILITY.get(stage, 0.0)


@dataclass(frozen=True)
class WonCheck:
    status: str  # "confirmed", "short", "pending"
    text: str


def won_arr_check(
    *, won_arr: float, arr_before: float, next_contract: tuple[date, float] | None
) -> WonCheck:
    """Does the ARR won show up in the next contract? `arr_before`: the account's ARR when it
    was won; `next_contract`: (start, ARR on that start day) of the first contract starting
    after the win, if any."""
    if next_contract is None:
        return WonCheck("pending", f"No contract since the win yet: {money(won_arr)} to show up.")
    start, arr_after = next_contract
    added = arr_after - arr_before
    if added + 0.005 >= won_arr:
        return WonCheck(
            "confirmed",
            f"In the contract from {start.isoformat()}: ARR {money(arr_before)} → "
            f"{money(arr_after)} (+{money(added)}, {money(won_arr)} won).",
        )
    return WonCheck(
        "short",
        f"The contract from {start.isoformat()} adds {money(max(added, 0))} of the "
        f"{money(won_arr)} won (ARR {money(arr_before)} → {money(arr_after)}).",
    )


def age_days(created: date, on: date) -> int:
    return max((on - created).days, 0)


def within(day: date | None, on: date, days: int) -> bool:
    return day is not None and on - day < timedelta(days=days)
