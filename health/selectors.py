"""Reads for health pages and the API."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import Account

from .models import HealthModel, HealthSnapshot, UsageFact


def latest_snapshot_date(on_or_before: date | None = None) -> date | None:
    qs = HealthSnapshot.objects.all()
    if on_or_before:
        qs = qs.filter(date__lte=on_or_before)
    return qs.aggregate(d=Max("date"))["d"]


def account_snapshot(*, account: Account, as_of: date | None = None) -> HealthSnapshot | None:
    """The snapshot of that day, or the latest one when no day is given."""
    qs = HealthSnapshot.objects.filter(account=account).select_related("model")
    if as_of:
        return qs.filter(date=as_of).first()
    return qs.order_by("-date").first()


def with_book_health(qs: QuerySet[Account], day: date) -> QuerySet[Account]:
    """Annotate each account's score and band on `day`, the change in score over 7 days and a
    band rank (red 0 … unscored 3) for sorting riskiest first. Two left joins on the snapshot
    table's (account, date) key rather than correlated subqueries: the book sorts and sums
    every account, and a join is read once where a subquery runs per account and per use."""
    return qs.annotate(
        snap_now=FilteredRelation("health", condition=Q(health__date=day)),
        snap_week_ago=FilteredRelation("health", condition=Q(health__date=day - timedelta(days=7))),
    ).annotate(
        health_score=F("snap_now__score"),
        health_band=F("snap_now__band"),
        score_week_ago=F("snap_week_ago__score"),
        score_change_7d=Coalesce(F("snap_now__score") - F("snap_week_ago__score"), Value(0)),
        band_rank=Case(
            When(snap_now__band="red", then=Value(0)),
            When(snap_now__band="yellow", then=Value(1)),
            When(snap_now__band="green", then=Value(2)),
            default=Value(3),
        ),
    )


def book_snapshots(
    *, as_of: date, band: str = "", tier: int | None = None, csm_id: int | None = None
) -> QuerySet[HealthSnapshot]:
    qs = HealthSnapshot.objects.filter(date=as_of).select_related("account", "account__csm")
    if band:
        qs = qs.filter(band=band)
    if tier:
        qs = qs.filter(account__tier=tier)
    if csm_id:
        qs = qs.filter(account__csm_id=csm_id)
    return qs.order_by("score", "account__name")


def score_history(*, account_ids: list[int], since: date, until: date) -> dict[int, list]:
    """Daily (date, score, band) per account in one query, oldest first."""
    out: dict[int, list] = defaultdict(list)
    rows = (
        HealthSnapshot.objects.filter(account_id__in=account_ids, date__gte=since, date__lte=until)
        .order_by("account_id", "date")
        .values_list("account_id", "date", "score", "band")
    )
    for account_id, day, score, band in rows:
        out[account_id].append((day, score, band))
    return out


def usage_daily(*, account: Account, metric: str, start: date, end: date) -> list[dict]:
    """Daily totals of one metric (summed over every dimension), zero-filled."""
    totals = dict(
        UsageFact.objects.filter(account=account, metric=metric, date__gte=start, date__lte=end)
        .values("date")
        .annotate(total=Sum("value"))
        .values_list("date", "total")
    )
    days = (end - start).days + 1
    return [
        {
            "date": start + timedelta(days=i),
            # Summing floats leaves binary noise (218.29999999999998); usage has no more
            # than six decimals that mean anything.
            "value": round(float(totals.get(start + timedelta(days=i), 0)), 6),
        }
        for i in range(days)
    ]


def usage_by(
    *, account: Account, metric: str, dimension: str, start: date, end: date, top: int = 6
) -> dict[str, list[tuple[date, float]]]:
    """Daily totals of one metric split by product or chain, the top N plus 'other'."""
    rows = list(
        UsageFact.objects.filter(account=account, metric=metric, date__gte=start, date__lte=end)
        .values_list("date", f"dims__{dimension}")
        .annotate(total=Sum("value"))
        .order_by("date")
    )
    totals: dict[str, float] = defaultdict(float)
    for _, key, total in rows:
        totals[key or "unspecified"] += total
    keep = set(sorted(totals, key=totals.get, reverse=True)[:top])
    series: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for day, key, total in rows:
        name = key or "unspecified"
        series[name if name in keep else "other"][day] += total
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return {
        name: [(d, values.get(d, 0.0)) for d in days]
        for name, values in sorted(series.items(), key=lambda kv: -sum(kv[1].values()))
    }


@dataclass
class BurnUp:
    period_start: date
    period_end: date
    commit: float
    consumed: list[tuple[date, float]]  # cumulative
    projected_end: float
    pace: float | None


def commit_burn_up(*, account: Account, as_of: date) -> BurnUp | None:
    """Cumulative units consumed in the current period vs pro-rata commit, run-rate projected."""
    if not account.current_commit or not account.period_start or not account.renewal_date:
        return None
    start, end = account.period_start, account.renewal_date
    daily = dict(
        UsageFact.objects.filter(
            account=account, metric="units", date__gte=start, date__lte=min(as_of, end)
        )
        .values("date")
        .annotate(total=Sum("value"))
        .values_list("date", "total")
    )
    consumed, running, day = [], 0.0, start
    while day <= min(as_of, end):
        running += float(daily.get(day, 0))
        consumed.append((day, running))
        day += timedelta(days=1)
    last28 = sum(float(daily.get(as_of - timedelta(days=i), 0)) for i in range(28))
    remaining_days = max((end - as_of).days, 0)
    projected = running + last28 / 28 * remaining_days
    commit = float(account.current_commit)
    period_days = (end - start).days + 1
    elapsed = max((min(as_of, end) - start).days + 1, 1)
    pace = running / (commit * elapsed / period_days) if commit else None
    return BurnUp(start, end, commit, consumed, projected, pace)


def model_history() -> QuerySet[HealthModel]:
    return HealthModel.objects.select_related("created_by").order_by("-version")


def failed_queries_by_target(
    *, account_ids: list[int] | None, start: date, end: date, reasons: tuple[str, ...]
) -> list[tuple[int, date, str, str, str, float]]:
    """Failed queries with these reasons per (account, day, reason, chain, dataset) from `start`
    to `end`, in one grouped read (the accounts of a recompute, or every account for None)."""
    qs = UsageFact.objects.filter(
        metric="failed_queries", reason__in=reasons, date__gte=start, date__lte=end
    )
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return [
        (account_id, day, reason, chain, dataset, float(total))
        for account_id, day, reason, chain, dataset, total in qs.values_list(
            "account_id", "date", "reason", "chain", "dataset"
        )
        .annotate(total=Sum("value"))
        .order_by()
    ]


def usage_on_target(
    *,
    account_ids: list[int],
    start: date,
    end: date | None = None,
    chain: str = "",
    dataset: str = "",
) -> dict[tuple[int, str, str], float]:
    """Totals per (account, metric, reason) from `start` (to `end`, default: the latest) of
    usage naming this chain or dataset, failed queries included, in one grouped read."""
    where = Q()
    if chain:
        where |= Q(chain=chain)
    if dataset:
        where |= Q(dataset=dataset)
    if not where or not account_ids:
        return {}
    qs = UsageFact.objects.filter(where, account_id__in=account_ids, date__gte=start)
    if end is not None:
        qs = qs.filter(date__lte=end)
    rows = qs.values_list("account_id", "metric", "reason").annotate(total=Sum("value")).order_by()
    return {
        (account_id, metric, reason): float(total) for account_id, metric, reason, total in rows
    }


def usage_reach(
    *, accounts: QuerySet[Account] | list[int], dimension: str, start: date, end: date
) -> dict[str, int]:
    """How many of `accounts` used each value of one dimension (`product`, `chain` or
    `dataset`) from `start` to `end`: distinct accounts with a positive non-failed fact naming
    it. One grouped read however many accounts (`accounts` may be a queryset: a subquery)."""
    if dimension not in ("product", "chain", "dataset"):
        raise ValueError(f"not a usage dimension: {dimension}")
    rows = (
        UsageFact.objects.filter(
            account_id__in=accounts, date__gte=start, date__lte=end, value__gt=0
        )
        .exclude(metric="failed_queries")
        .exclude(**{dimension: ""})
        .values_list(dimension)
        .annotate(n=Count("account_id", distinct=True))
        .order_by()
    )
    return dict(rows)
