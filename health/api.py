from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.models import Account, User

from . import selectors
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
        user = (
            User.objects.filter(pk=int(csm)).first()
            if csm.isdigit()
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
    end_day = _day(end, "end") or date.today() - timedelta(days=1)
    start_day = _day(start, "start") or end_day - timedelta(days=89)
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
