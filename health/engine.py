"""The health model's math: pure functions from per-account aggregates to an explained score.

Aggregates come from `health.aggregates` (set-based SQL over the usage facts); this module only
turns one account's numbers into signals, overrides and a band, so each rule is testable with
hand-built inputs. Nothing here touches the database.

Signal sub-scores (0-100), chosen so a CS leader can say each rule out loud:
- usage_trend: r = units last 28 days ÷ the 28 before. r ≤ 0.5 → 0, r = 1.0 → 83, r ≥ 1.1 → 100;
  usage that started in the last 28 days → 100; none in 56 days (with history) → 0.
- commit_pace: consumed ÷ (commit × elapsed share of the period), capped at 100%.
- breadth: chains + datasets used in 28 days ÷ those used in 90 days; 80% or more → 100.
- recency: days since the last day with meaningful usage (queries, units, API calls or stream
  events above zero): 3 days or fewer → 100, 60 or more → 0, linear between. Under a contract
  with no usage ever, the days since the contract (or our data) started count instead.
- active_users: institutions: peak daily active users ÷ half the seats; self-serve: 2+ users → 100.
- production_depth: 70 × min(1, active days of 28 ÷ 20) + 30 if they use the API or streams.
- exec_engagement: the exec sponsor engaged within 90 days → 100, within 180 → 40, else 0;
  self-serve: 2+ active users → 100.
- touch_cadence: last touch within the tier's cadence (tier 1: 30 days, tier 2: 60) → 100,
  within twice it → 50, else 0; tier 1 without a QBR in 100 days is held to 50. Tier 3 has no
  named human, so it does not apply.
- sentiment: latest NPS × 10, or (CSAT − 1) × 25, within a year.
- data_trust: 100 − 60 per open incident touching what they used in 28 days.
- onboarding: share of the milestones due so far that were done by their due date (does not
  apply until one is due).
A signal whose data the account structurally lacks (no commit, no seats, no contacts, no
milestones due) does not apply; the remaining weights are renormalised. Silence is not missing
data: once an account has usage history or an active contract, no usage scores as zero (usage
that has not landed yet never reaches the engine: see `health.landing`).

Overrides: sharp_drop, coasting and dormant cap at red; data_trust_incident and champion_left
at yellow. dormant: no meaningful usage for 30 days after having been active, or for the first
30 days of an active contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

SIGNALS: list[tuple[str, str, str]] = [
    # key, label, group
    ("usage_trend", "Usage trend", "usage"),
    ("commit_pace", "Commit pace", "usage"),
    ("breadth", "Breadth", "usage"),
    ("active_users", "Active users", "usage"),
    ("production_depth", "Production depth", "usage"),
    ("recency", "Recency", "usage"),
    ("exec_engagement", "Exec engagement", "relationship"),
    ("touch_cadence", "Touch cadence", "relationship"),
    ("sentiment", "Sentiment", "relationship"),
    ("data_trust", "Data trust", "trust"),
    ("onboarding", "Onboarding", "trust"),
]
SIGNAL_KEYS = [key for key, _, _ in SIGNALS]
SIGNAL_LABELS = {key: label for key, label, _ in SIGNALS}
RELATIONSHIP = ("exec_engagement", "touch_cadence", "sentiment")
# The usage group keeps 74 of 100 with recency in it; relationship 16, support & trust 10.
# Inside it, behaviour leads: the 28-day trend and recency carry 52 of the 74 (a backtest on
# the demo book's history ranks churn and decline best by them; `make health-doc`).
DEFAULT_WEIGHTS = {
    "usage_trend": 34,
    "commit_pace": 10,
    "breadth": 4,
    "active_users": 6,
    "production_depth": 2,
    "recency": 18,
    "exec_engagement": 8,
    "touch_cadence": 4,
    "sentiment": 4,
    "data_trust": 5,
    "onboarding": 5,
}
DEFAULT_GREEN_MIN = 70
DEFAULT_YELLOW_MIN = 40

SHARP_DROP_SHARE = 0.5  # daily usage below this share of the prior 28-day daily average…
SHARP_DROP_DAYS = 7  # …on each of the last 7 days
COASTING_RELATIONSHIP_MIN = 80
COASTING_PACE_MAX = 0.5
FLAT_TREND_MAX = 1.05  # a trend ratio at or below this is "flat or falling"
SPIKE_MIN_BASELINE_DAYS = 14  # of the prior 28, for a usage spike to mean anything
TOUCH_CADENCE_DAYS = {1: 30, 2: 60}
QBR_CADENCE_DAYS = 100
TRUST_KINDS = ("accuracy", "freshness", "outage")
RECENCY_FULL_DAYS = 3  # last meaningful usage this recent → recency 100
RECENCY_ZERO_DAYS = 60  # …this long ago or more → 0
WINDOW_DAYS = 90  # the model reads the 90 days of usage up to and including the day it scores
DORMANT_DAYS = 30  # no meaningful usage for this long (after activity, or under contract) → red


@dataclass
class AccountInputs:
    """Everything the model needs about one account as of one day (all already aggregated)."""

    account_id: int
    tier: int
    segment: str
    seats: int | None = None
    # usage, from SQL aggregates
    units_28: float = 0.0
    units_prev_28: float = 0.0
    breadth_28: int = 0
    breadth_90: int = 0
    peak_users_28: float = 0.0
    active_days_28: int = 0
    production_calls_28: float = 0.0
    prior_daily_avg: float = 0.0  # units per day over the 28 days before the last 7
    units_7: float = 0.0
    low_days_7: int = 0  # of the last 7 days, how many were below SHARP_DROP_SHARE × prior avg
    prior_active_days: int = 0  # days with units in the 28 days before the last 7
    last_active: date | None = None  # last day with meaningful usage, over all history
    # read by the expansion triggers (health's own signals do not use them)
    api_calls_28: float = 0.0
    api_calls_prev_28: float = 0.0  # the 28 days before the last 28
    queries_28: float = 0.0
    chains_90: int = 0  # distinct chains used in the 90-day window
    chains_before_28: int = 0  # …of which used before the last 28 days
    unlicensed_failures_28: float = 0.0  # failed queries: chain_not_covered, dataset_not_found
    unlicensed_target: str = ""  # the dataset (else chain) they aimed at (the greatest name)
    # commit
    commit_units: float | None = None
    period_start: date | None = None
    period_end: date | None = None
    consumed_in_period: float = 0.0
    has_contract: bool = False  # a contract is active on the day scored
    data_since: date | None = None  # first day we hold usage for (history may start mid-period)
    # the newest day whose usage has landed, when it is before the day scored: usage is judged
    # through that day (a day not landed yet is not zero usage)
    usage_through: date | None = None
    # relationship
    has_contacts: bool = False
    exec_last_engaged: date | None = None
    has_exec_sponsor: bool = False
    departed_key_contacts: list[str] = field(default_factory=list)
    last_touch: date | None = None
    last_qbr: date | None = None
    sentiment_kind: str | None = None
    sentiment_score: int | None = None
    sentiment_date: date | None = None
    # trust
    open_incidents: list[dict] = field(default_factory=list)  # {key, kind, title}
    milestones_due: int = 0  # onboarding milestones due by the day
    milestones_on_time: int = 0  # of those, done by their due date


@dataclass
class Signal:
    key: str
    label: str
    weight: float
    applies: bool
    value: str  # the raw value, in words a CSM reads
    raw: float | None = None
    score: float | None = None
    contribution: float = 0.0
    effective_weight: float = 0.0
    reason: str = ""  # why it does not apply


@dataclass
class Override:
    key: str
    detail: str
    cap_band: str  # "red" or "yellow"


@dataclass
class Result:
    score: int
    weighted_score: float
    band: str
    signals: list[Signal]
    overrides: list[Override]
    relationship: float | None
    trend_ratio: float | None
    commit_pace: float | None
    spike_ratio: float | None
    facts: dict = field(default_factory=dict)  # the numbers alerts quote

    def signals_json(self) -> list[dict]:
        return [asdict(s) for s in self.signals]

    def overrides_json(self) -> list[dict]:
        return [{"key": o.key, "detail": o.detail, "cap_band": o.cap_band} for o in self.overrides]


def window_start(until: date) -> date:
    """The first day of the model's usage window ending on `until` (inclusive)."""
    return until - timedelta(days=WINDOW_DAYS - 1)


def clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def _fmt(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:,.0f}"


def trend_ratio(inp: AccountInputs) -> float | None:
    return inp.units_28 / inp.units_prev_28 if inp.units_prev_28 > 0 else None


def usage_day(inp: AccountInputs, as_of: date) -> date:
    """The last day usage is judged through: the day scored, or the newest landed one."""
    return min(as_of, inp.usage_through) if inp.usage_through else as_of


def has_history(inp: AccountInputs) -> bool:
    """Silence counts for an account that has used the product or holds a contract."""
    return inp.last_active is not None or inp.has_contract


def days_silent(inp: AccountInputs, as_of: date) -> int | None:
    """Days since the last meaningful usage; under a contract never used, days since the
    contract (or our data, if it starts later) began. None: no history to be silent against."""
    day = usage_day(inp, as_of)
    if inp.last_active is not None:
        return max(0, (day - inp.last_active).days)
    if inp.has_contract and inp.period_start is not None:
        start = max(inp.period_start, inp.data_since or inp.period_start)
        return max(0, (day - start).days + 1)
    return None


def recency_score(days: int) -> float:
    if days <= RECENCY_FULL_DAYS:
        return 100.0
    if days >= RECENCY_ZERO_DAYS:
        return 0.0
    return 100.0 * (RECENCY_ZERO_DAYS - days) / (RECENCY_ZERO_DAYS - RECENCY_FULL_DAYS)


def commit_pace(inp: AccountInputs, as_of: date) -> float | None:
    """Units consumed so far ÷ (commit × elapsed share of the period we hold data for)."""
    if not inp.commit_units or inp.period_start is None or inp.period_end is None:
        return None
    start = max(inp.period_start, inp.data_since or inp.period_start)
    period_days = (inp.period_end - inp.period_start).days + 1
    observed_days = (as_of - start).days + 1
    if observed_days <= 0 or period_days <= 0:
        return None
    expected = inp.commit_units * observed_days / period_days
    return inp.consumed_in_period / expected if expected > 0 else None


def _signal(key, applies, value, raw=None, score=None, reason="") -> Signal:
    return Signal(
        key=key,
        label=SIGNAL_LABELS[key],
        weight=0,
        applies=applies,
        value=value,
        raw=raw,
        score=round(clamp(score), 1) if score is not None else None,
        reason=reason,
    )


def _usage_trend(inp: AccountInputs, as_of: date) -> Signal:
    ratio = trend_ratio(inp)
    if ratio is None and inp.units_28 > 0:
        return _signal(
            "usage_trend",
            True,
            f"{_fmt(inp.units_28)} units in 28 days, none in the 28 before (new usage)",
            score=100,
        )
    if ratio is None and has_history(inp):
        return _signal("usage_trend", True, "no usage in the last 56 days", raw=0, score=0)
    if ratio is None:
        return _signal(
            "usage_trend",
            False,
            "no usage",
            reason="no usage and no contract yet, so there is no trend to judge",
        )
    return _signal(
        "usage_trend",
        True,
        f"{_fmt(inp.units_28)} vs {_fmt(inp.units_prev_28)} units ({ratio - 1:+.0%})",
        raw=round(ratio, 3),
        score=100 * (ratio - 0.5) / 0.6,
    )


def _commit_pace(inp: AccountInputs, as_of: date) -> Signal:
    pace = commit_pace(inp, usage_day(inp, as_of))
    if pace is None:
        return _signal(
            "commit_pace", False, "no commit", reason="no committed units in the current contract"
        )
    return _signal(
        "commit_pace",
        True,
        f"{pace:.0%} of pro-rata commit ({_fmt(inp.consumed_in_period)} of "
        f"{_fmt(inp.commit_units)} units)",
        raw=round(pace, 3),
        score=100 * pace,
    )


def _breadth(inp: AccountInputs, as_of: date) -> Signal:
    silent = days_silent(inp, as_of)
    quiet_all_window = silent is None or silent >= WINDOW_DAYS
    if inp.breadth_90 == 0 and has_history(inp) and quiet_all_window:
        return _signal("breadth", True, "no chains or datasets used in 90 days", raw=0, score=0)
    if inp.breadth_90 == 0:
        return _signal(
            "breadth",
            False,
            "no chains or datasets",
            reason="their usage names no chain or dataset, so there is no breadth to judge",
        )
    share = inp.breadth_28 / inp.breadth_90
    return _signal(
        "breadth",
        True,
        f"{inp.breadth_28} of {inp.breadth_90} chains+datasets still in use",
        raw=round(share, 3),
        score=100 * share / 0.8,
    )


def _active_users(inp: AccountInputs, as_of: date) -> Signal:
    users = int(inp.peak_users_28)
    if inp.segment == "self_serve":
        return _signal(
            "active_users",
            True,
            f"{users} active user{'s' if users != 1 else ''} (need 2)",
            raw=users,
            score=min(users, 2) * 50,
        )
    if inp.seats:
        share = users / inp.seats
        return _signal(
            "active_users",
            True,
            f"{users} of {inp.seats} seats active ({share:.0%})",
            raw=round(share, 3),
            score=100 * share / 0.5,
        )
    return _signal(
        "active_users", False, f"{users} active users", reason="no seat count on the account"
    )


def _production_depth(inp: AccountInputs, as_of: date) -> Signal:
    api = inp.production_calls_28 > 0
    depth = 70 * min(1.0, inp.active_days_28 / 20) + (30 if api else 0)
    return _signal(
        "production_depth",
        True,
        f"active {inp.active_days_28} of 28 days; {'uses' if api else 'no'} API/streams",
        raw=inp.active_days_28,
        score=depth,
    )


def _recency(inp: AccountInputs, as_of: date) -> Signal:
    silent = days_silent(inp, as_of)
    if silent is None:
        return _signal(
            "recency",
            False,
            "never used",
            reason="no usage and no contract yet, so there is nothing to be silent against",
        )
    if inp.last_active is None:
        value = f"no usage in the {silent} days since the contract started"
    elif silent <= 1:
        value = "last used yesterday"
    else:
        value = f"last used {silent} days ago ({inp.last_active.isoformat()})"
    return _signal("recency", True, value, raw=silent, score=recency_score(silent))


def _exec_engagement(inp: AccountInputs, as_of: date) -> Signal:
    users = int(inp.peak_users_28)
    if inp.segment == "self_serve":
        return _signal(
            "exec_engagement",
            True,
            f"{users} active users (self-serve: need 2)",
            raw=users,
            score=100 if users >= 2 else 0,
        )
    if not inp.has_contacts:
        return _signal(
            "exec_engagement", False, "no contacts", reason="no contacts mapped for this account"
        )
    if not inp.has_exec_sponsor:
        return _signal("exec_engagement", True, "no exec sponsor mapped", raw=None, score=0)
    if inp.exec_last_engaged is None:
        return _signal("exec_engagement", True, "exec sponsor never engaged", score=0)
    days = (as_of - inp.exec_last_engaged).days
    return _signal(
        "exec_engagement",
        True,
        f"exec sponsor engaged {days} days ago",
        raw=days,
        score=100 if days <= 90 else 40 if days <= 180 else 0,
    )


def _touch_cadence(inp: AccountInputs, as_of: date) -> Signal:
    cadence = TOUCH_CADENCE_DAYS.get(inp.tier)
    if cadence is None:
        return _signal(
            "touch_cadence",
            False,
            "digital tier",
            reason="tier 3 has no named CSM; automation carries the touch",
        )
    if inp.last_touch is None:
        return _signal("touch_cadence", True, "never touched", score=0)
    days = (as_of - inp.last_touch).days
    score = 100 if days <= cadence else 50 if days <= 2 * cadence else 0
    detail = f"last touch {days} days ago (cadence {cadence})"
    if inp.tier == 1:
        qbr_days = (as_of - inp.last_qbr).days if inp.last_qbr else None
        if qbr_days is None or qbr_days > QBR_CADENCE_DAYS:
            score = min(score, 50)
            detail += "; QBR overdue" if qbr_days else "; no QBR yet"
    return _signal("touch_cadence", True, detail, raw=days, score=score)


def _sentiment(inp: AccountInputs, as_of: date) -> Signal:
    if inp.sentiment_score is None:
        return _signal(
            "sentiment", False, "no NPS/CSAT", reason="no NPS or CSAT response in the last year"
        )
    if inp.sentiment_kind == "nps":
        return _signal(
            "sentiment",
            True,
            f"NPS {inp.sentiment_score} on {inp.sentiment_date}",
            raw=inp.sentiment_score,
            score=10 * inp.sentiment_score,
        )
    return _signal(
        "sentiment",
        True,
        f"CSAT {inp.sentiment_score} on {inp.sentiment_date}",
        raw=inp.sentiment_score,
        score=25 * (inp.sentiment_score - 1),
    )


def _data_trust(inp: AccountInputs, as_of: date) -> Signal:
    n = len(inp.open_incidents)
    return _signal(
        "data_trust",
        True,
        "no open incidents on their data"
        if n == 0
        else f"{n} open incident{'s' if n != 1 else ''}: "
        + ", ".join(i["title"] or i["key"] for i in inp.open_incidents),
        raw=n,
        score=100 - 60 * n,
    )


def _onboarding(inp: AccountInputs, as_of: date) -> Signal:
    if inp.milestones_due == 0:
        return _signal(
            "onboarding", False, "no milestones due", reason="no onboarding milestones due yet"
        )
    share = inp.milestones_on_time / inp.milestones_due
    return _signal(
        "onboarding",
        True,
        f"{inp.milestones_on_time} of {inp.milestones_due} milestones done on time",
        raw=round(share, 3),
        score=100 * share,
    )


# One rule per signal, in the order the breakdown lists them.
SIGNAL_RULES = (
    _usage_trend,
    _commit_pace,
    _breadth,
    _active_users,
    _production_depth,
    _recency,
    _exec_engagement,
    _touch_cadence,
    _sentiment,
    _data_trust,
    _onboarding,
)


def compute_signals(inp: AccountInputs, as_of: date) -> dict[str, Signal]:
    """Every signal of one account on one day, before weighting."""
    signals = [rule(inp, as_of) for rule in SIGNAL_RULES]
    return {signal.key: signal for signal in signals}


def evaluate(
    inp: AccountInputs,
    *,
    as_of: date,
    weights: dict[str, float],
    green_min: int = DEFAULT_GREEN_MIN,
    yellow_min: int = DEFAULT_YELLOW_MIN,
) -> Result:
    """Signals → renormalised weighted score → overrides → band."""
    signals = compute_signals(inp, as_of)
    applying = [k for k in SIGNAL_KEYS if signals[k].applies and weights.get(k, 0) > 0]
    total = sum(weights[k] for k in applying)
    weighted = 0.0
    for key in SIGNAL_KEYS:
        sig = signals[key]
        sig.weight = weights.get(key, 0)
        if key in applying and total > 0:
            sig.effective_weight = round(100 * sig.weight / total, 2)
            sig.contribution = round(sig.effective_weight * sig.score / 100, 2)
            weighted += sig.weight * sig.score / total
    rel_keys = [k for k in RELATIONSHIP if k in applying]
    relationship = (
        (sum(weights[k] * signals[k].score for k in rel_keys) / sum(weights[k] for k in rel_keys))
        if rel_keys
        else None
    )

    ratio = trend_ratio(inp)
    pace = commit_pace(inp, usage_day(inp, as_of))
    overrides: list[Override] = []
    if (
        inp.prior_daily_avg > 0
        and inp.low_days_7 >= SHARP_DROP_DAYS
        and inp.units_7 / 7 < SHARP_DROP_SHARE * inp.prior_daily_avg
    ):
        overrides.append(
            Override(
                "sharp_drop",
                f"usage below {SHARP_DROP_SHARE:.0%} of the prior 28-day daily average on each of "
                f"the last {SHARP_DROP_DAYS} days: {_fmt(inp.units_7 / 7)} units/day vs "
                f"{_fmt(inp.prior_daily_avg)}",
                "red",
            )
        )
    if (
        relationship is not None
        and relationship >= COASTING_RELATIONSHIP_MIN
        and pace is not None
        and pace < COASTING_PACE_MAX
        and (ratio is None or ratio <= FLAT_TREND_MAX)
    ):
        trend_words = "flat" if ratio is not None and ratio >= 0.95 else "falling"
        overrides.append(
            Override(
                "coasting",
                f"relationship looks healthy ({relationship:.0f}/100) "
                f"but commit pace is {pace:.0%} "
                f"and usage is {trend_words}"
                + (f" ({ratio - 1:+.0%} over 28 days)" if ratio is not None else "")
                + ": shelfware that will not recommit",
                "red",
            )
        )
    silent = days_silent(inp, as_of)
    if silent is not None and silent >= DORMANT_DAYS:
        overrides.append(
            Override(
                "dormant",
                (
                    f"no usage for {silent} days (last used {inp.last_active.isoformat()})"
                    if inp.last_active is not None
                    else f"no usage in the {silent} days since the contract started"
                )
                + ": an account that stops using the product does not recommit",
                "red",
            )
        )
    trust = [i for i in inp.open_incidents if i["kind"] in TRUST_KINDS]
    if trust:
        overrides.append(
            Override(
                "data_trust_incident",
                "open "
                + ", ".join(f"{i['kind']} incident {i['title'] or i['key']}" for i in trust)
                + " touching datasets they used in the last 28 days",
                "yellow",
            )
        )
    if inp.departed_key_contacts:
        overrides.append(
            Override(
                "champion_left",
                "; ".join(inp.departed_key_contacts) + " and nobody has replaced them",
                "yellow",
            )
        )

    score = round(weighted)
    for o in overrides:
        cap = yellow_min - 1 if o.cap_band == "red" else green_min - 1
        score = min(score, cap)
    band = "green" if score >= green_min else "yellow" if score >= yellow_min else "red"
    # A spike needs a real baseline: a new signup's first week is not a 5x surge.
    spike = (
        (inp.units_7 / 7) / inp.prior_daily_avg
        if inp.prior_daily_avg > 0 and inp.prior_active_days >= SPIKE_MIN_BASELINE_DAYS
        else None
    )
    share = (
        inp.consumed_in_period / inp.commit_units if inp.commit_units and inp.period_start else None
    )
    facts = {
        "trend_ratio": _round(ratio),
        "commit_pace": _round(pace),
        "spike_ratio": _round(spike),
        "relationship": _round(relationship),
        "units_7": round(inp.units_7, 1),
        "prior_daily_avg": round(inp.prior_daily_avg, 1),
        "consumed": round(inp.consumed_in_period, 1),
        "commit": inp.commit_units,
        "consumed_share": _round(share),
        "period_start": inp.period_start.isoformat() if inp.period_start else None,
        "period_end": inp.period_end.isoformat() if inp.period_end else None,
        "days_silent": silent,
        "last_active": inp.last_active.isoformat() if inp.last_active else None,
    }
    if usage_day(inp, as_of) < as_of:
        facts["usage_through"] = usage_day(inp, as_of).isoformat()
    return Result(
        score=score,
        weighted_score=round(weighted, 2),
        band=band,
        signals=[signals[k] for k in SIGNAL_KEYS],
        overrides=overrides,
        relationship=relationship,
        trend_ratio=ratio,
        commit_pace=pace,
        spike_ratio=spike,
        facts=facts,
    )


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
