from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.models import Account, User
from cs_portal import clock
from cs_portal.params import whole_number

from . import backtest, selectors
from .engine import window_start
from .models import Band, Metric

router = Router(tags=["health"])


class SignalOut(Schema):
    key: str
    label: str
    weight: float
    value: str
    raw: float | None
    score: float | None
    contribution: float
    applies: bool
    reason: str


class OverrideOut(Schema):
    key: str
    detail: str


class HealthOut(Schema):
    account: str
    name: str
    as_of: date
    score: int
    band: str
    model_version: int
    signals: list[SignalOut]
    overrides: list[OverrideOut]


class BookHealthOut(Schema):
    account: str
    name: str
    tier: int
    csm: str | None
    as_of: date
    score: int
    band: str
    overrides: list[OverrideOut]


class UsagePointOut(Schema):
    date: date
    value: float


class UsageOut(Schema):
    account: str
    metric: str
    start: date
    end: date
    points: list[UsagePointOut]


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HttpError(400, f"{name} must be a date in YYYY-MM-DD form, not '{raw}'") from None


def _account(external_id: str) -> Account:
    account = Account.objects.filter(external_id=external_id).first()
    if account is None:
        raise HttpError(404, f"no account '{external_id}'")
    return account


@router.get("/accounts/{external_id}/health", response=HealthOut)
def account_health(request: HttpRequest, external_id: str, as_of: str | None = None):
    """The explained score of one account: the day's snapshot (default: the latest)."""
    account = _account(external_id)
    day = _day(as_of, "as_of")
    snap = selectors.account_snapshot(account=account, as_of=day)
    if snap is None:
        raise HttpError(
            404, f"no health snapshot for '{external_id}'" + (f" on {day}" if day else " yet")
        )
    return {
        "account": account.external_id,
        "name": account.name,
        "as_of": snap.date,
        "score": snap.score,
        "band": snap.band,
        "model_version": snap.model.version,
        "signals": snap.signals,
        "overrides": snap.overrides,
    }


@router.get("/health", response=list[BookHealthOut])
def book_health(
    request: HttpRequest, band: str = "", tier: str = "", csm: str = "", as_of: str | None = None
):
    """The book's health on one day (default: the latest scored day), riskiest first."""
    if band and band not in Band.values:
        raise HttpError(400, f"band must be one of {', '.join(Band.values)}, not '{band}'")
    if tier and tier not in {"1", "2", "3"}:
        raise HttpError(400, f"tier must be 1, 2 or 3, not '{tier}'")
    csm_id = None
    if csm:
        number = whole_number(csm)
        user = (
            User.objects.filter(pk=number).first()
            if number is not None
            else User.objects.filter(email=csm.lower()).first()
        )
        if user is None:
            raise HttpError(400, f"csm '{csm}' is not a user (give an email or id)")
        csm_id = user.pk
    day = _day(as_of, "as_of") or selectors.latest_snapshot_date()
    if day is None:
        return []
    return [
        {
            "account": s.account.external_id,
            "name": s.account.name,
            "tier": s.account.tier,
            "csm": s.account.csm.email if s.account.csm else None,
            "as_of": s.date,
            "score": s.score,
            "band": s.band,
            "overrides": s.overrides,
        }
        for s in selectors.book_snapshots(
            as_of=day, band=band, tier=int(tier) if tier else None, csm_id=csm_id
        )
    ]


@router.get("/accounts/{external_id}/usage", response=UsageOut)
def account_usage(
    request: HttpRequest,
    external_id: str,
    metric: str = "units",
    start: str | None = None,
    end: str | None = None,
):
    """Daily totals of one metric (summed over products, chains and datasets), zero-filled."""
    if metric not in Metric.values:
        raise HttpError(400, f"metric must be one of {', '.join(Metric.values)}, not '{metric}'")
    account = _account(external_id)
    end_day = _day(end, "end") or clock.last_complete_day()
    start_day = _day(start, "start") or window_start(end_day)
    if start_day > end_day:
        raise HttpError(400, f"start {start_day} is after end {end_day}")
    if (end_day - start_day).days > 3660:
        raise HttpError(400, "ask for at most ten years at a time")
    return {
        "account": account.external_id,
        "metric": metric,
        "start": start_day,
        "end": end_day,
        "points": selectors.usage_daily(
            account=account, metric=metric, start=start_day, end=end_day
        ),
    }


# --- backtest ----------------------------------------------------------------------------------


class BacktestDecileOut(Schema):
    decile: int
    low: float | None
    high: float | None
    no_value: int
    accounts: int
    bad: int
    bad_rate: float | None


class BacktestRankingOut(Schema):
    key: str
    label: str
    auc: float | None
    deciles: list[BacktestDecileOut]


class BacktestBaselineOut(BacktestRankingOut):
    model_beats_by: float | None


class BacktestBandOut(Schema):
    band: str
    accounts: int
    bad: int
    bad_rate: float | None
    reasons: dict[str, int]


class BacktestConfusionOut(Schema):
    bad: int
    flagged: int
    bad_flagged: int
    bad_missed: int
    false_alarms: int
    quiet_ok: int


class BacktestAccountOut(Schema):
    account: str
    score: int
    band: str
    bad: bool
    reasons: dict[str, str]
    days_since_active: int | None
    trend_ratio: float | None


class BacktestOut(Schema):
    as_of: date
    horizon_days: int
    outcome_through: date
    model_version: int | None
    weights: dict[str, float]
    green_min: int
    yellow_min: int
    accounts: int
    bad: int
    bad_rate: float | None
    reasons: dict[str, int]
    model: BacktestRankingOut
    baselines: list[BacktestBaselineOut]
    bands: list[BacktestBandOut]
    lift: float | None
    confusion: BacktestConfusionOut
    outcomes: list[BacktestAccountOut] | None = None


def _whole(raw: str | None, name: str, example: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise HttpError(400, f"{name} must be a whole number ({example}), not '{raw}'") from None


@router.get("/health/backtest", response=BacktestOut)
def health_backtest(
    request: HttpRequest,
    as_of: str | None = None,
    horizon: str | None = None,
    model: str | None = None,
    outcomes: bool = False,
):
    """Backtest a model version (default: the current one): score the book as of `as_of`,
    writing nothing, and judge each account's outcome over the next `horizon` days (churned,
    contracted, usage fell by half, went dormant). Returns the model's ROC AUC and decile
    calibration next to two naive baselines, each band's bad rate, the lift and the band
    line's catches and false alarms; `outcomes=true` adds one row per account."""
    day = _day(as_of, "as_of")
    if day is None:
        raise HttpError(400, "as_of is required: the day to score the book as of (YYYY-MM-DD)")
    days = _whole(horizon, "horizon", "days after as_of, e.g. 90")
    if days is None:
        raise HttpError(400, "horizon is required: the days after as_of to judge outcomes over")
    try:
        chosen = backtest.backtest_model(_whole(model, "model", "a model version, e.g. 3"))
    except LookupError as exc:
        raise HttpError(404, str(exc)) from None
    try:
        result = backtest.backtest_model_run(as_of=day, horizon_days=days, model=chosen)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return result.as_dict(outcomes=outcomes)
