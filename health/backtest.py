"""Backtest the health model: score the book as of a past day, then look at what happened next.

`backtest_run` scores every account as of `as_of` exactly as a recompute would
(`aggregates.build_inputs` + `engine.evaluate`) but writes nothing: no snapshot, no alert. It
then judges each account's outcome over the horizon (as_of, as_of + horizon] with a few
set-based queries for the whole book. An account went **bad** if any of:

- *churned*: a contract active on as_of ends inside the horizon and no contract of theirs
  starts within 30 days after its end (a successor that starts earlier, an early renewal,
  counts);
- *contracted*: that successor's ARR is lower than the ending contract's;
- *fell by half*: average daily units over the horizon's last 28 days are at most 50 % of the
  average over the 28 days up to as_of (only accounts with units in those 28 days);
- *went dormant*: no activity (queries, units, API calls or stream events above zero) in the
  horizon's last 30 days, after some in the 90 days up to as_of.

The outcome rules are the backtest's own, deliberately independent of the model's signals, so
a change to the model cannot move the goalposts it is judged against. Contracts are read as
they stand today: a renewal signed after the horizon but starting within 30 days of the old
contract's end counts as a renewal.

The metrics are pure functions over plain lists, so each can be checked by hand.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from accounts.models import Account

from . import aggregates
from .aggregates import CONTRACTS, _d, _rows, _scope  # the same set-based read helpers
from .engine import DEFAULT_GREEN_MIN, DEFAULT_WEIGHTS, DEFAULT_YELLOW_MIN, evaluate
from .landing import usage_landed_through
from .models import HealthModel
from .usage_sql import USAGE

REASONS = ("churned", "contracted", "fell_by_half", "dormant")
REASON_WORDS = {
    "churned": "churned",
    "contracted": "contracted",
    "fell_by_half": "fell by half",
    "dormant": "went dormant",
}
RENEWAL_GRACE_DAYS = 30  # a successor starting this long after the end is still a renewal
DROP_WINDOW_DAYS = 28
DROP_SHARE = 0.5
DORMANT_WINDOW_DAYS = 30
ACTIVE_BEFORE_DAYS = 90
MIN_HORIZON_DAYS = DORMANT_WINDOW_DAYS  # the outcome windows must lie inside the horizon
MAX_HORIZON_DAYS = 730
BANDS = ("red", "yellow", "green")
FLAGGED = ("red", "yellow")
# What counts as activity for the outcome (and the days-since-activity baseline).
ACTIVITY = "metric IN ('queries', 'units', 'api_calls', 'stream_events') AND value > 0"


# --- pure metrics ------------------------------------------------------------------------------


def roc_auc(risks: Sequence[float], bad: Sequence[bool]) -> float | None:
    """ROC AUC of a risk ranking: the chance that a random bad account has a higher risk than a
    random good one, a tie counting half (the Mann–Whitney U statistic ÷ bad × good).

    0.5 is a coin toss, 1.0 ranks every bad account above every good one. None when either
    group is empty. Computed from average ranks, so it takes n log n, not n² comparisons:
    e.g. risks [90, 80, 80, 10] with bad [T, F, T, F] compare (90>80, 90>10, 80=80, 80>10)
    = 1 + 1 + ½ + 1 = 3.5 of 4 pairs, AUC 0.875.
    """
    positives = sum(1 for b in bad if b)
    negatives = len(bad) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(risks)), key=lambda i: risks[i])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and risks[order[j + 1]] == risks[order[i]]:
            j += 1
        average_rank = (i + j) / 2 + 1  # ranks are 1-based; ties share their average
        rank_sum += average_rank * sum(1 for k in order[i : j + 1] if bad[k])
        i = j + 1
    u = rank_sum - positives * (positives + 1) / 2
    return u / (positives * negatives)


def rate(bad: int, accounts: int) -> float | None:
    return bad / accounts if accounts else None


def decile_table(
    risks: Sequence[float], bad: Sequence[bool], values: Sequence[float | None]
) -> list[dict]:
    """Calibration by decile of risk, riskiest first: each decile's value range, accounts,
    bad accounts and bad rate.

    Accounts are ordered by risk (highest first); accounts with the same risk stay together
    and go to the decile of their middle position (0-based position p of n falls in decile
    ⌊10p / n⌋ + 1), so a decile may hold more or fewer than a tenth of the book and a small
    book skips decile numbers. `values` is what a reader recognises (the score, the days, the
    ratio); `low`/`high` is its range in the decile, `no_value` how many had none.
    """
    n = len(risks)
    order = sorted(range(n), key=lambda i: -risks[i])
    rows: dict[int, dict] = {}
    i = 0
    while i < n:
        j = i
        while j + 1 < n and risks[order[j + 1]] == risks[order[i]]:
            j += 1
        decile = min(10, int(10 * ((i + j) / 2) / n) + 1)
        row = rows.setdefault(
            decile,
            {"decile": decile, "low": None, "high": None, "no_value": 0, "accounts": 0, "bad": 0},
        )
        for k in order[i : j + 1]:
            row["accounts"] += 1
            row["bad"] += 1 if bad[k] else 0
            value = values[k]
            if value is None:
                row["no_value"] += 1
                continue
            row["low"] = value if row["low"] is None else min(row["low"], value)
            row["high"] = value if row["high"] is None else max(row["high"], value)
        i = j + 1
    out = [rows[d] for d in sorted(rows)]
    for row in out:
        row["bad_rate"] = rate(row["bad"], row["accounts"])
    return out


def band_table(bands: Sequence[str], reasons: Sequence[Sequence[str]]) -> list[dict]:
    """Each band's accounts, how many went bad, the bad rate and the count per reason (an
    account with two reasons counts once in `bad` and once under each reason)."""
    out = []
    for band in BANDS:
        members = [r for b, r in zip(bands, reasons, strict=True) if b == band]
        bad = sum(1 for r in members if r)
        out.append(
            {
                "band": band,
                "accounts": len(members),
                "bad": bad,
                "bad_rate": rate(bad, len(members)),
                "reasons": {key: sum(1 for r in members if key in r) for key in REASONS},
            }
        )
    return out


def lift(bands: Sequence[dict]) -> float | None:
    """Red's bad rate ÷ green's: how many times more often a red account went bad.

    None when either band is empty or no green account went bad (nothing to divide by)."""
    by_band = {row["band"]: row for row in bands}
    red, green = by_band["red"]["bad_rate"], by_band["green"]["bad_rate"]
    if red is None or not green:
        return None
    return red / green


def confusion(bands: Sequence[str], bad: Sequence[bool]) -> dict:
    """The band line as a yes/no call: flagged means red or yellow.

    Of the bad accounts, how many were flagged and how many were missed; a false alarm is a
    flagged account that did not go bad."""
    flagged = [b in FLAGGED for b in bands]
    pairs = list(zip(flagged, bad, strict=True))
    return {
        "bad": sum(1 for _, b in pairs if b),
        "flagged": sum(1 for f, _ in pairs if f),
        "bad_flagged": sum(1 for f, b in pairs if f and b),
        "bad_missed": sum(1 for f, b in pairs if not f and b),
        "false_alarms": sum(1 for f, b in pairs if f and not b),
        "quiet_ok": sum(1 for f, b in pairs if not f and not b),
    }


def days_since_risk(days: int | None) -> float:
    """More days since the last activity is riskier; never active is the riskiest of all."""
    return math.inf if days is None else float(days)


def trend_risk(ratio: float | None) -> float:
    """A lower 28-day trend ratio is riskier; no ratio (no usage in the 28 days before) is
    the riskiest of all."""
    return math.inf if ratio is None else -ratio


def reason_words(keys: Sequence[str]) -> str:
    """'churned, contracted, fell by half or went dormant' for the reasons given (all when
    none are)."""
    words = [REASON_WORDS[k] for k in REASONS if k in keys] or [REASON_WORDS[k] for k in REASONS]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# --- outcomes ----------------------------------------------------------------------------------


@dataclass
class AccountOutcome:
    """One account: how the model scored it as of the day, and what happened next."""

    account_id: int
    external_id: str
    score: int
    band: str
    reasons: dict[str, str]  # reason key → what happened, in REASONS order; empty: not bad
    days_since_active: int | None  # as of the day scored; None: never active
    trend_ratio: float | None  # the model's 28-day usage trend as of the day

    @property
    def bad(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict:
        return {
            "account": self.external_id,
            "score": self.score,
            "band": self.band,
            "bad": self.bad,
            "reasons": self.reasons,
            "days_since_active": self.days_since_active,
            "trend_ratio": self.trend_ratio,
        }


@dataclass
class Ranking:
    """How well one risk ranking (the model's or a naive baseline's) ordered the outcomes."""

    key: str
    label: str
    auc: float | None
    deciles: list[dict]

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "auc": _r(self.auc),
            "deciles": [{**row, "bad_rate": _r(row["bad_rate"])} for row in self.deciles],
        }


@dataclass
class Backtest:
    """A backtest of one model over one book, as of one day, with one horizon.

    The metrics are derived from the outcomes when it is built; `as_dict()` is its JSON."""

    as_of: date
    horizon_days: int
    weights: dict
    green_min: int
    yellow_min: int
    outcomes: list[AccountOutcome]
    model_version: int | None = None
    reasons: dict[str, int] = field(init=False)
    model: Ranking = field(init=False)
    baselines: list[Ranking] = field(init=False)
    bands: list[dict] = field(init=False)
    lift: float | None = field(init=False)
    confusion: dict = field(init=False)

    def __post_init__(self) -> None:
        rows = self.outcomes
        bad = [o.bad for o in rows]
        self.reasons = {key: sum(1 for o in rows if key in o.reasons) for key in REASONS}
        self.model = Ranking(
            "health_score",
            "health score",
            roc_auc([100 - o.score for o in rows], bad),
            decile_table([100 - o.score for o in rows], bad, [o.score for o in rows]),
        )
        days = [days_since_risk(o.days_since_active) for o in rows]
        trend = [trend_risk(o.trend_ratio) for o in rows]
        self.baselines = [
            Ranking(
                "days_since_active",
                "days since last activity",
                roc_auc(days, bad),
                decile_table(days, bad, [o.days_since_active for o in rows]),
            ),
            Ranking(
                "usage_trend",
                "28-day usage trend",
                roc_auc(trend, bad),
                decile_table(trend, bad, [o.trend_ratio for o in rows]),
            ),
        ]
        self.bands = band_table([o.band for o in rows], [tuple(o.reasons) for o in rows])
        self.lift = lift(self.bands)
        self.confusion = confusion([o.band for o in rows], bad)

    @property
    def outcome_through(self) -> date:
        return self.as_of + timedelta(days=self.horizon_days)

    @property
    def accounts(self) -> int:
        return len(self.outcomes)

    @property
    def bad(self) -> int:
        return sum(1 for o in self.outcomes if o.bad)

    def beats_by(self, baseline: Ranking) -> float | None:
        """The model's AUC minus the baseline's (negative: the baseline ranks better)."""
        if self.model.auc is None or baseline.auc is None:
            return None
        return self.model.auc - baseline.auc

    def as_dict(self, *, outcomes: bool = False) -> dict:
        """JSON-ready; with outcomes=True, one row per account too (a big book: big)."""
        out = {
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "outcome_through": self.outcome_through.isoformat(),
            "model_version": self.model_version,
            "weights": self.weights,
            "green_min": self.green_min,
            "yellow_min": self.yellow_min,
            "accounts": self.accounts,
            "bad": self.bad,
            "bad_rate": _r(rate(self.bad, self.accounts)),
            "reasons": self.reasons,
            "model": self.model.as_dict(),
            "baselines": [
                {**b.as_dict(), "model_beats_by": _r(self.beats_by(b))} for b in self.baselines
            ],
            "bands": [{**row, "bad_rate": _r(row["bad_rate"])} for row in self.bands],
            "lift": _r(self.lift),
            "confusion": self.confusion,
        }
        if outcomes:
            out["outcomes"] = [o.as_dict() for o in self.outcomes]
        return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- set-based reads ---------------------------------------------------------------------------


def usage_outcomes(
    as_of: date, horizon_days: int, account_ids: list[int] | None
) -> dict[int, dict]:
    """One pass over the usage facts up to the horizon's end, per account: units in the 28 days
    up to as_of and in the horizon's last 28, whether they were active in the 90 days up to
    as_of, the last active day up to as_of and up to the horizon's end."""
    through = as_of + timedelta(days=horizon_days)
    scope, scope_params = _scope(account_ids, "account_id")
    sql = f"""
        SELECT account_id,
          SUM(CASE WHEN metric = 'units' AND date > %s AND date <= %s THEN value ELSE 0 END),
          SUM(CASE WHEN metric = 'units' AND date > %s THEN value ELSE 0 END),
          MAX(CASE WHEN {ACTIVITY} AND date > %s AND date <= %s THEN 1 ELSE 0 END),
          MAX(CASE WHEN {ACTIVITY} AND date <= %s THEN date END),
          MAX(CASE WHEN {ACTIVITY} THEN date END)
        FROM {USAGE}
        WHERE date <= %s{scope}
        GROUP BY account_id
    """
    params = [
        as_of - timedelta(days=DROP_WINDOW_DAYS),
        as_of,
        through - timedelta(days=DROP_WINDOW_DAYS),
        as_of - timedelta(days=ACTIVE_BEFORE_DAYS),
        as_of,
        as_of,
        through,
        *scope_params,
    ]
    return {
        row[0]: {
            "units_before": float(row[1] or 0),
            "units_end": float(row[2] or 0),
            "active_before": bool(row[3]),
            "last_active": _d(row[4]),
            "last_active_through": _d(row[5]),
        }
        for row in _rows(sql, params)
    }


def renewal_rows(as_of: date, horizon_days: int, account_ids: list[int] | None) -> list[tuple]:
    """Contracts active on as_of that end inside the horizon, each joined to every later-starting
    contract of the account that could be its successor (one row per pair, or one with no
    successor): (account_id, start, end, arr, successor start, successor arr)."""
    through = as_of + timedelta(days=horizon_days)
    scope, scope_params = _scope(account_ids, "e.account_id")
    sql = f"""
        SELECT e.account_id, e.start, e."end", e.arr, n.start, n.arr
        FROM {CONTRACTS} e
        LEFT JOIN {CONTRACTS} n
          ON n.account_id = e.account_id AND n.start > e.start AND n.start <= %s
        WHERE e.start <= %s AND e."end" > %s AND e."end" <= %s{scope}
        ORDER BY e.account_id, e.start, n.start
    """
    limit = through + timedelta(days=RENEWAL_GRACE_DAYS)
    return _rows(sql, [limit, as_of, as_of, through, *scope_params])


def judge_renewals(rows: Sequence[tuple]) -> dict[int, dict[str, str]]:
    """From `renewal_rows`: per account, churned and/or contracted with what happened.

    A contract's successor is the earliest contract that starts after it and no later than
    30 days after its end (contracts starting that same day count together); none → churned,
    its ARR lower → contracted."""
    pending: dict[tuple, list] = defaultdict(list)
    ending: dict[tuple, tuple] = {}
    for account_id, start, end, arr, next_start, next_arr in rows:
        key = (account_id, _d(start))
        ending[key] = (_d(end), Decimal(str(arr)))
        if next_start is not None:
            pending[key].append((_d(next_start), Decimal(str(next_arr))))
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (account_id, start), (end, arr) in ending.items():
        grace = end + timedelta(days=RENEWAL_GRACE_DAYS)
        successors = [(s, a) for s, a in pending[(account_id, start)] if s <= grace]
        if not successors:
            out[account_id]["churned"].append(
                f"contract {start} to {end} (ARR {arr:,.0f}) not renewed within "
                f"{RENEWAL_GRACE_DAYS} days of its end"
            )
            continue
        first = min(s for s, _ in successors)
        renewed = sum((a for s, a in successors if s == first), Decimal(0))
        if renewed < arr:
            out[account_id]["contracted"].append(
                f"renewed from {first} at ARR {renewed:,.0f}, down from {arr:,.0f}"
            )
    return {
        account_id: {key: "; ".join(why) for key, why in reasons.items()}
        for account_id, reasons in out.items()
    }


def judge_usage(usage: dict | None, *, as_of: date, horizon_days: int) -> dict[str, str]:
    """From one account's `usage_outcomes` row: fell by half and/or went dormant."""
    if not usage:
        return {}
    through = as_of + timedelta(days=horizon_days)
    out: dict[str, str] = {}
    before, after = usage["units_before"], usage["units_end"]
    if before > 0 and after <= DROP_SHARE * before:
        out["fell_by_half"] = (
            f"{after / DROP_WINDOW_DAYS:,.0f} units/day in the {DROP_WINDOW_DAYS} days to "
            f"{through}, {after / before:.0%} of the {before / DROP_WINDOW_DAYS:,.0f}/day "
            f"in the {DROP_WINDOW_DAYS} days to {as_of}"
        )
    quiet_from = through - timedelta(days=DORMANT_WINDOW_DAYS)
    last = usage["last_active_through"]
    if usage["active_before"] and (last is None or last <= quiet_from):
        out["dormant"] = (
            f"no activity in the {DORMANT_WINDOW_DAYS} days to {through} (last active {last})"
        )
    return out


# --- the service -------------------------------------------------------------------------------


def horizon_check(*, as_of: date, horizon_days: int) -> None:
    """Raise ValueError unless the whole horizon lies in usage that has landed."""
    if not MIN_HORIZON_DAYS <= horizon_days <= MAX_HORIZON_DAYS:
        raise ValueError(
            f"the horizon must be {MIN_HORIZON_DAYS} to {MAX_HORIZON_DAYS} days "
            f"(the outcome looks at its last {DORMANT_WINDOW_DAYS} days), not {horizon_days}"
        )
    landed = usage_landed_through()
    if landed is None:
        raise ValueError("no usage has landed yet, so there is no history to backtest against")
    through = as_of + timedelta(days=horizon_days)
    if through > landed:
        raise ValueError(
            f"a {horizon_days}-day horizon from {as_of} runs to {through}, but usage has "
            f"landed only through {landed}: the latest as_of this data allows for a "
            f"{horizon_days}-day horizon is {landed - timedelta(days=horizon_days)}"
        )


def backtest_run(
    *,
    as_of: date,
    horizon_days: int,
    weights: dict,
    green_min: int,
    yellow_min: int,
    account_ids: list[int] | None = None,
) -> Backtest:
    """Score the book as of `as_of` with these weights and thresholds, writing nothing, and
    judge each account's outcome over the following `horizon_days`.

    Raises ValueError when the horizon is out of range or not fully observed yet (its end is
    after the newest usage day landed; the message names the latest as_of the data allows).
    A fixed number of queries whatever the size of the book.
    """
    horizon_check(as_of=as_of, horizon_days=horizon_days)
    inputs = aggregates.build_inputs(as_of, account_ids)
    scope = [inp.account_id for inp in inputs] if account_ids is not None else None
    usage = usage_outcomes(as_of, horizon_days, scope)
    renewals = judge_renewals(renewal_rows(as_of, horizon_days, scope))
    external = Account.objects.all()
    if scope is not None:
        external = external.filter(pk__in=scope)
    external_ids = dict(external.values_list("id", "external_id"))
    outcomes = []
    for inp in inputs:
        result = evaluate(
            inp, as_of=as_of, weights=weights, green_min=green_min, yellow_min=yellow_min
        )
        account_usage = usage.get(inp.account_id)
        reasons = {
            **renewals.get(inp.account_id, {}),
            **judge_usage(account_usage, as_of=as_of, horizon_days=horizon_days),
        }
        last = account_usage["last_active"] if account_usage else None
        outcomes.append(
            AccountOutcome(
                account_id=inp.account_id,
                external_id=external_ids.get(inp.account_id, str(inp.account_id)),
                score=result.score,
                band=result.band,
                reasons={key: reasons[key] for key in REASONS if key in reasons},
                days_since_active=(as_of - last).days if last else None,
                trend_ratio=result.facts.get("trend_ratio"),
            )
        )
    return Backtest(
        as_of=as_of,
        horizon_days=horizon_days,
        weights=dict(weights),
        green_min=green_min,
        yellow_min=yellow_min,
        outcomes=outcomes,
    )


def backtest_model(version: int | None = None) -> HealthModel:
    """The saved model version asked for (LookupError naming the saved versions if there is
    none), or the current one. With no model saved yet, the default model, unsaved: a backtest
    writes nothing."""
    models = HealthModel.objects.order_by("-version")
    if version is None:
        current = models.first()
        if current is not None:
            return current
        return HealthModel(
            weights=DEFAULT_WEIGHTS, green_min=DEFAULT_GREEN_MIN, yellow_min=DEFAULT_YELLOW_MIN
        )
    found = models.filter(version=version).first()
    if found is None:
        versions = list(models.values_list("version", flat=True))
        saved = (
            f"saved versions: {', '.join(str(v) for v in sorted(versions))}"
            if versions
            else "none is saved yet"
        )
        raise LookupError(f"no health model version {version} ({saved})")
    return found


def backtest_model_run(*, as_of: date, horizon_days: int, model: HealthModel) -> Backtest:
    """`backtest_run` with a model's weights and thresholds, tagged with its version."""
    result = backtest_run(
        as_of=as_of,
        horizon_days=horizon_days,
        weights=model.weights,
        green_min=model.green_min,
        yellow_min=model.yellow_min,
    )
    result.model_version = model.version
    return result


def backtest_compare(current: Backtest, draft: Backtest) -> str:
    """The sentence a manager reads before saving a draft model: what it would have caught and
    the false alarms it would have raised, against the current model on the same backtest.

    E.g. "This draft would have flagged 7 more of the 19 accounts that churned or went dormant,
    and 12 more false alarms (12 flagged and 40 false alarms, against 5 and 28)."
    """
    if (current.as_of, current.horizon_days) != (draft.as_of, draft.horizon_days) or {
        o.account_id for o in current.outcomes
    } != {o.account_id for o in draft.outcomes}:
        raise ValueError("compare two backtests of the same book, day and horizon")
    now, new = current.confusion, draft.confusion
    alarms = new["false_alarms"] - now["false_alarms"]
    if alarms == 0:
        alarm_words = "the same number of false alarms"
    else:
        alarm_words = (
            f"{abs(alarms)} {'more' if alarms > 0 else 'fewer'} false alarm"
            f"{'s' if abs(alarms) != 1 else ''}"
        )
    totals = (
        f"{new['bad_flagged']} flagged and {new['false_alarms']} false alarms, against "
        f"{now['bad_flagged']} and {now['false_alarms']}"
    )
    bad = now["bad"]
    words = reason_words([k for k, n in current.reasons.items() if n])
    if bad == 0:
        return (
            f"No account {words} in the {current.horizon_days} days after {current.as_of}, "
            f"so this draft would only change the false alarms: {alarm_words} "
            f"({new['false_alarms']} against {now['false_alarms']})."
        )
    caught = new["bad_flagged"] - now["bad_flagged"]
    noun = "account that" if bad == 1 else "accounts that"
    if caught == 0:
        flagged = f"flagged the same {new['bad_flagged']} of the {bad} {noun} {words}"
    else:
        flagged = (
            f"flagged {abs(caught)} {'more' if caught > 0 else 'fewer'} of the {bad} {noun} {words}"
        )
    return f"This draft would have {flagged}, and {alarm_words} ({totals})."
