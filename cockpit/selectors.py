"""Reads for the cockpit's panels and the retention endpoint. Each panel is a few set-based
queries over the book (or one CSM's book); nothing runs a query per account."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import (
    Account,
    Contract,
    Role,
    Tier,
    TierChange,
    Touchpoint,
    TouchpointKind,
    User,
)
from accounts.permissions import sees_whole_team
from cs_portal.sql import columns
from health.models import HealthSnapshot, UsageDay
from health.selectors import latest_snapshot_date
from playbooks.models import Play, PlayStatus, Task, TaskStatus

from .retention import RetentionPoint, retention_as_of, retention_trend
from .rules import MOVEMENTS, ZERO, Retention


def book_ids(*, user: User) -> list[int] | None:
    """The accounts whose figures `user` sees: None (the whole book) for managers and admins,
    otherwise the accounts they are the CSM of."""
    if sees_whole_team(user):
        return None
    return list(Account.objects.filter(csm=user).order_by().values_list("pk", flat=True))


@dataclass
class RetentionFigures:
    as_of: date
    basis: str
    nrr: Decimal | None
    grr: Decimal | None
    starting_arr: Decimal
    ending_arr: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal
    cohort_accounts: int


def retention_figures(*, user: User, as_of: date, basis: str) -> RetentionFigures:
    """The endpoint's answer: trailing-12-month retention as of a day on one basis."""
    ids = book_ids(user=user)
    r: Retention = retention_cached(
        basis,
        as_of,
        ids,
        lambda: retention_as_of(as_of=as_of, basis=basis, account_ids=ids).totals(),
    )
    return RetentionFigures(
        as_of=as_of,
        basis=basis,
        nrr=r.nrr,
        grr=r.grr,
        starting_arr=r.starting,
        ending_arr=r.ending,
        expansion=r.expansion,
        contraction=r.contraction,
        churn=r.churn,
        cohort_accounts=r.cohort_accounts,
    )


# --- the book, one row per account ----------------------------------------------------------


@dataclass
class BookRow:
    pk: int
    external_id: str
    name: str
    tier: int
    csm_id: int | None
    arr: Decimal
    renewal: date | None
    band: str | None
    score: int | None
    change_7d: int


def book_rows(
    *, account_ids: list[int] | None, on: date, renewing_by: date | None = None
) -> list[BookRow]:
    """Every account in scope with its ARR on `on`, renewal date (the latest end among its
    active contracts) and latest health with the change over 7 days: four plain queries (the
    accounts, their active contracts grouped, two days of snapshots) joined here, rather than
    the book's correlated subqueries per account, which cost a manager's whole book dearly.
    With `renewing_by`, only the accounts renewing by then (the database narrows all four)."""
    active = (
        Contract.objects.filter(start__lte=on, end__gte=on, **scope_filter(account_ids))
        .order_by()
        .values("account_id")
        .annotate(arr=Sum("arr"), renewal=Max("end"))
    )
    accounts = Account.objects.filter(**scope_filter(account_ids, "pk")).order_by()
    narrow = {}
    if renewing_by is not None:
        active = active.filter(renewal__lte=renewing_by)
        narrow = {"account_id__in": active.values("account_id")}
        accounts = accounts.filter(pk__in=active.values("account_id"))
    commercials = {
        pk: (arr, renewal)
        for pk, arr, renewal in active.values_list("account_id", "arr", "renewal")
    }
    day = latest_snapshot_date(on_or_before=on)
    scores: dict[int, tuple[str, int]] = {}
    week_ago: dict[int, int] = {}
    if day is not None:
        snaps = (
            HealthSnapshot.objects.filter(
                date__in=[day, day - timedelta(days=7)], **scope_filter(account_ids)
            )
            .filter(**narrow)
            .order_by()
        )
        for pk, when, band, score in snaps.values_list("account_id", "date", "band", "score"):
            if when == day:
                scores[pk] = (band, score)
            else:
                week_ago[pk] = score
    rows = []
    for pk, ext, name, tier, csm_id in accounts.values_list(
        "pk", "external_id", "name", "tier", "csm_id"
    ):
        arr, renewal = commercials.get(pk, (ZERO, None))
        band, score = scores.get(pk, (None, None))
        change = score - week_ago[pk] if score is not None and pk in week_ago else 0
        rows.append(BookRow(pk, ext, name, tier, csm_id, arr, renewal, band, score, change))
    return rows


def scope_filter(account_ids: list[int] | None, field_name: str = "account_id") -> dict:
    return {} if account_ids is None else {f"{field_name}__in": account_ids}


# --- tiers ----------------------------------------------------------------------------------


@dataclass
class TierLine:
    tier: int
    label: str
    accounts: int = 0
    arr: Decimal = ZERO


@dataclass
class TierPanel:
    on: date
    since: date
    lines: list[TierLine]
    moves: dict[str, int]  # promotions, relegations, new, churned
    by_month: list[tuple[str, dict[str, int]]]
    total_accounts: int
    total_arr: Decimal


MOVE_KINDS = ("promotions", "relegations", "new", "churned")


def active_contracts(*, account_ids: list[int] | None, on: date):
    """The contracts in force on `on` within the scope, unordered, for grouping."""
    return Contract.objects.filter(
        start__lte=on, end__gte=on, **scope_filter(account_ids)
    ).order_by()


def tier_panel(*, account_ids: list[int] | None, on: date, days: int) -> TierPanel:
    """Accounts and ARR per tier today; promotions and relegations (the tier history) and new
    and churned logos (first contract started, last contract ended) over the last `days`.
    Every figure is grouped in the database: the panel reads a few dozen rows, not the book."""
    since = on - timedelta(days=days)
    lines = {t.value: TierLine(t.value, t.label) for t in Tier}
    for tier, n in (
        Account.objects.filter(**scope_filter(account_ids, "pk"))
        .order_by()
        .values("tier")
        .annotate(n=Count("pk"))
        .values_list("tier", "n")
    ):
        lines[tier].accounts = n
    active = active_contracts(account_ids=account_ids, on=on)
    for tier, arr in (
        active.values("account__tier").annotate(arr=Sum("arr")).values_list("account__tier", "arr")
    ):
        lines[tier].arr = arr or ZERO
    events: list[tuple[date, str]] = []
    changes = TierChange.objects.filter(
        changed_at__date__gt=since,
        changed_at__date__lte=on,
        from_tier__isnull=False,
        **scope_filter(account_ids),
    ).exclude(from_tier=F("to_tier"))
    for when, from_tier, to_tier in changes.values_list("changed_at", "from_tier", "to_tier"):
        events.append((when.date(), "promotions" if to_tier < from_tier else "relegations"))
    spans = (
        Contract.objects.filter(**scope_filter(account_ids))
        .order_by()
        .values("account_id")
        .annotate(first=Min("start"), last=Max("end"))
    )
    for first in spans.filter(first__gt=since, first__lte=on).values_list("first", flat=True):
        events.append((as_date(first), "new"))
    churned = spans.filter(last__gte=since, last__lt=on).exclude(
        account_id__in=active.values("account_id")
    )
    for last in churned.values_list("last", flat=True):
        events.append((as_date(last) + timedelta(days=1), "churned"))
    moves = dict.fromkeys(MOVE_KINDS, 0)
    months: dict[str, dict[str, int]] = {}
    for day, kind in events:
        moves[kind] += 1
        months.setdefault(day.strftime("%Y-%m"), dict.fromkeys(MOVE_KINDS, 0))[kind] += 1
    by_month = sorted(months.items())
    tiers = [lines[t] for t in sorted(lines)]
    return TierPanel(
        on=on,
        since=since,
        lines=tiers,
        moves=moves,
        by_month=by_month,
        total_accounts=sum(t.accounts for t in tiers),
        total_arr=sum((t.arr for t in tiers), ZERO),
    )


def as_date(value) -> date:
    """A date from an aggregate, which SQLite returns as text."""
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


# --- health over time -----------------------------------------------------------------------

HEALTH_DAYS = 90
BANDS = ("green", "yellow", "red")
MOVERS = 5


@dataclass
class HealthPanel:
    until: date | None
    days: list[date]
    accounts: dict[str, list[float]]  # band → share of scored accounts per day
    arr: dict[str, list[float]]  # band → share of ARR per day
    today_counts: dict[str, int]
    drops: list[BookRow]
    recoveries: list[BookRow]


HEALTH_CACHE_SECONDS = 600


@dataclass
class BandSeries:
    days: list[date]
    accounts: dict[str, list[float]]  # band → share of scored accounts per day
    arr: dict[str, list[float]]  # band → share of ARR per day
    last: dict[str, int]  # band → accounts on the newest day


def health_panel(
    *, account_ids: list[int] | None, on: date, tier: int | None, csm_id: int | None
) -> HealthPanel:
    """The share of accounts and of ARR in each band per day over 90 days, and the day's
    biggest 7-day movers. The 90-day series reads every snapshot of the period, so it is cached
    (ten minutes at most) per newest day, selection and that day's band counts (a rescore of
    the day changes them)."""
    until = latest_snapshot_date(on_or_before=on)
    if until is None or (account_ids is not None and not account_ids):
        return HealthPanel(until, [], {}, {}, {}, [], [])
    today_bands = dict(
        HealthSnapshot.objects.filter(date=until)
        .order_by()
        .values("band")
        .annotate(n=Count("pk"))
        .values_list("band", "n")
    )
    version = sorted(today_bands.items())
    series: BandSeries = cached(
        "health",
        (until, on, tier, csm_id, scope_key(account_ids), version),
        lambda: band_series(account_ids=account_ids, on=on, until=until, tier=tier, csm_id=csm_id),
        HEALTH_CACHE_SECONDS,
    )
    drops, ups = movers(account_ids=account_ids, on=on, until=until, tier=tier, csm_id=csm_id)
    return HealthPanel(
        until=until,
        days=series.days,
        accounts=series.accounts,
        arr=series.arr,
        today_counts={b: series.last.get(b, 0) for b in BANDS},
        drops=drops,
        recoveries=ups,
    )


def movers(
    *, account_ids: list[int] | None, on: date, until: date, tier: int | None, csm_id: int | None
) -> tuple[list[BookRow], list[BookRow]]:
    """The day's biggest 7-day drops and recoveries (score on `until` against a week before),
    ranked in the database; only the few shown are read in full."""
    week_ago = HealthSnapshot.objects.filter(
        account_id=OuterRef("account_id"), date=until - timedelta(days=7)
    ).values("score")[:1]
    snaps = HealthSnapshot.objects.filter(date=until, **scope_filter(account_ids))
    if tier:
        snaps = snaps.filter(account__tier=tier)
    if csm_id:
        snaps = snaps.filter(account__csm_id=csm_id)
    snaps = snaps.annotate(change=F("score") - Subquery(week_ago))
    drop_ids = list(
        snaps.filter(change__lt=0)
        .order_by("change", "account__name")
        .values_list("account_id", flat=True)[:MOVERS]
    )
    up_ids = list(
        snaps.filter(change__gt=0)
        .order_by("-change", "account__name")
        .values_list("account_id", flat=True)[:MOVERS]
    )
    rows = {r.pk: r for r in book_rows(account_ids=drop_ids + up_ids, on=on)}
    return [rows[pk] for pk in drop_ids if pk in rows], [rows[pk] for pk in up_ids if pk in rows]


def band_series(
    *, account_ids: list[int] | None, on: date, until: date, tier: int | None, csm_id: int | None
) -> BandSeries:
    """Accounts and ARR (each account's ARR on `on`) per band per day over the 90 days ending
    `until`, as shares; one grouped query."""
    since = until - timedelta(days=HEALTH_DAYS - 1)
    s = columns(HealthSnapshot, "account", "date", "band")
    a = columns(Account, "id", "tier", "csm")
    c = columns(Contract, "account", "start", "end", "arr")
    where, params = [f"s.{s.date} >= %s", f"s.{s.date} <= %s"], [since, until]
    if tier:
        where.append(f"a.{a.tier} = %s")
        params.append(tier)
    if csm_id:
        where.append(f"a.{a.csm} = %s")
        params.append(csm_id)
    if account_ids is not None:
        where.append(f"s.{s.account} IN ({', '.join(['%s'] * len(account_ids))})")
        params.extend(account_ids)
    sql = f"""
        WITH arr AS MATERIALIZED (
            SELECT {c.account} AS account_id, SUM({c.arr}) AS arr FROM {c.table}
            WHERE {c.start} <= %s AND {c.end} >= %s GROUP BY {c.account}
        )
        SELECT s.{s.date}, s.{s.band}, COUNT(*), SUM(COALESCE(arr.arr, 0))
        FROM {s.table} s
        {f"JOIN {a.table} a ON a.{a.id} = s.{s.account}" if tier or csm_id else ""}
        LEFT JOIN arr ON arr.account_id = s.{s.account}
        WHERE {" AND ".join(where)}
        GROUP BY s.{s.date}, s.{s.band}
    """
    counts: dict[date, dict[str, tuple[int, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [on, on, *params])
        for day, band, n, arr in cursor.fetchall():
            if isinstance(day, str):
                day = date.fromisoformat(day)
            counts.setdefault(day, {})[band] = (n, float(arr or 0))
    days = sorted(counts)
    accounts: dict[str, list[float]] = {b: [] for b in BANDS}
    arr_share: dict[str, list[float]] = {b: [] for b in BANDS}
    for day in days:
        n_total = sum(n for n, _ in counts[day].values())
        arr_total = sum(v for _, v in counts[day].values())
        for band in BANDS:
            n, v = counts[day].get(band, (0, 0.0))
            accounts[band].append(round(100 * n / n_total, 1) if n_total else 0.0)
            arr_share[band].append(round(100 * v / arr_total, 1) if arr_total else 0.0)
    last = {band: n for band, (n, _) in counts.get(until, {}).items()}
    return BandSeries(days, accounts, arr_share, last)


# --- renewals ahead -------------------------------------------------------------------------

RENEWAL_WINDOWS = (30, 90, 180)
RENEWAL_ROWS = 15


@dataclass
class RenewalRow:
    row: BookRow
    csm: User | None
    open_plays: int


@dataclass
class RenewalPanel:
    on: date
    window: int
    windows: dict[int, tuple[int, Decimal]]  # days → (accounts, ARR)
    rows: list[RenewalRow]
    more: int
    free: int  # free plans (no ARR) ending within the window, not listed
    by_month: list[tuple[str, Decimal, Decimal]]  # month, ARR, ARR not green


def renewal_panel(*, account_ids: list[int] | None, on: date, window: int) -> RenewalPanel:
    """Paying accounts renewing (their current contract ends) within 30/90/180 days, with ARR,
    band, 7-day trend, open plays and CSM; ARR renewing per month over 180 days, not green
    apart. Free plans (no ARR) ending are only counted."""
    horizon = on + timedelta(days=max(RENEWAL_WINDOWS))
    ahead = sorted(
        (
            r
            for r in book_rows(account_ids=account_ids, on=on, renewing_by=horizon)
            if r.renewal is not None and on <= r.renewal <= horizon
        ),
        key=lambda r: (r.renewal, -r.arr, r.name),
    )
    # A free plan's term ending is not a renewal a manager works: counted apart, not listed.
    free = [r for r in ahead if r.arr <= 0]
    ahead = [r for r in ahead if r.arr > 0]
    windows = {}
    for days in RENEWAL_WINDOWS:
        inside = [r for r in ahead if r.renewal <= on + timedelta(days=days)]
        windows[days] = (len(inside), sum((r.arr for r in inside), ZERO))
    shown = [r for r in ahead if r.renewal <= on + timedelta(days=window)]
    free_shown = sum(1 for r in free if r.renewal <= on + timedelta(days=window))
    listed = shown[:RENEWAL_ROWS]
    ids = [r.pk for r in listed]
    plays = dict(
        Play.objects.filter(account_id__in=ids, status=PlayStatus.OPEN)
        .order_by()
        .values("account_id")
        .annotate(n=Count("pk"))
        .values_list("account_id", "n")
    )
    people = User.objects.in_bulk({r.csm_id for r in listed if r.csm_id})
    months: dict[str, list[Decimal]] = {}
    for r in ahead:
        entry = months.setdefault(r.renewal.strftime("%Y-%m"), [ZERO, ZERO])
        entry[0] += r.arr
        if r.band != "green":
            entry[1] += r.arr
    return RenewalPanel(
        on=on,
        window=window,
        windows=windows,
        rows=[RenewalRow(r, people.get(r.csm_id), plays.get(r.pk, 0)) for r in listed],
        more=len(shown) - len(listed),
        free=free_shown,
        by_month=[(m, v[0], v[1]) for m, v in sorted(months.items())],
    )


# --- retention ------------------------------------------------------------------------------

MOVEMENT_ROWS = 15


@dataclass(frozen=True)
class MovementRow:
    external_id: str
    name: str
    start: Decimal
    end: Decimal
    change: Decimal


@dataclass
class RetentionPanel:
    as_of: date
    contract: Retention
    consumption: Retention
    trend: list[RetentionPoint]
    movements: dict[str, list[MovementRow]]  # of the contract basis, the biggest first
    counts: dict[str, int]


def retention_panel(*, account_ids: list[int] | None, as_of: date) -> RetentionPanel:
    """NRR and GRR on both bases as of the day, measured at each of the last 12 month ends,
    and the accounts behind each movement of the contract figure. Cached per day, scope and
    data version (see `retention_cached`): the consumption figure sums two years of units."""
    return retention_cached(
        "panel", as_of, account_ids, lambda: _retention_panel(account_ids, as_of)
    )


def _retention_panel(account_ids: list[int] | None, as_of: date) -> RetentionPanel:
    trend = retention_trend(as_of=as_of, account_ids=account_ids)
    now = trend[-1].contract
    listed = {kind: now.of_kind(kind)[:MOVEMENT_ROWS] for kind in MOVEMENTS}
    names = {
        pk: (ext, name)
        for pk, ext, name in Account.objects.filter(
            pk__in=[m.account_id for rows in listed.values() for m in rows]
        ).values_list("pk", "external_id", "name")
    }
    return RetentionPanel(
        as_of=as_of,
        contract=now.totals(),
        consumption=trend[-1].consumption.totals(),
        trend=[RetentionPoint(p.as_of, p.contract.totals(), p.consumption.totals()) for p in trend],
        movements={
            kind: [
                MovementRow(*names.get(m.account_id, ("", "")), m.start, m.end, m.change)
                for m in rows
            ]
            for kind, rows in listed.items()
        },
        counts={kind: len(now.of_kind(kind)) for kind in MOVEMENTS},
    )


RETENTION_CACHE_SECONDS = 3600
CACHE_PREFIX = "cockpit:"


def retention_data_version() -> str:
    """What retention is computed from, in two cheap aggregates: the contracts (count, newest
    id, sums) and the newest usage import. Any import that changes a figure changes this."""
    c = Contract.objects.aggregate(
        n=Count("pk"), last=Max("pk"), arr=Sum("arr"), commit=Sum("commit_units"), end=Max("end")
    )
    landed = UsageDay.objects.aggregate(at=Max("last_import_at"))["at"]
    return f"{c['n']}:{c['last']}:{c['arr']}:{c['commit']}:{c['end']}:{landed}"


def retention_cached(kind: str, as_of: date, account_ids: list[int] | None, compute):
    """`compute()` once per kind, day, scope and data version (an hour at most)."""
    return cached(
        f"retention:{kind}",
        (as_of, scope_key(account_ids), retention_data_version()),
        compute,
        RETENTION_CACHE_SECONDS,
    )


def scope_key(account_ids: list[int] | None) -> str:
    if account_ids is None:
        return "book"
    return hashlib.sha1(",".join(map(str, sorted(account_ids))).encode()).hexdigest()


def cached(kind: str, parts: tuple, compute, seconds: int):
    """`compute()` once per kind and key parts, kept `seconds` at most."""
    raw = ":".join(map(str, (kind, *parts)))
    key = CACHE_PREFIX + hashlib.sha1(raw.encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, seconds)
    return value


# --- workload -------------------------------------------------------------------------------

QBR_TIER1_DAYS = 100  # a tier-1 account without a QBR in this many days is due one
QBR_TIER2_RENEWAL_DAYS = 120  # a tier-2 account renewing this soon, without a recent QBR


@dataclass
class WorkloadLine:
    person: User | None  # None: accounts with no CSM
    tiers: dict[int, int]
    accounts: int = 0
    arr: Decimal = ZERO
    not_green: int = 0
    open_tasks: int = 0
    overdue_tasks: int = 0
    qbrs_due: int = 0


@dataclass
class WorkloadPanel:
    on: date
    lines: list[WorkloadLine]
    pool_size: int
    pool_oldest_days: int | None
    pools: list[tuple[str, int, int | None]]  # pool, open tasks, age of the oldest in days


def workload_panel(*, account_ids: list[int] | None, on: date, user: User) -> WorkloadPanel:
    """Per CSM: accounts by tier, ARR, accounts not green, open and overdue tasks, QBRs due
    (from `qbr` touchpoints); the pooled queues' size and the age of their oldest task. Each
    column is one grouped query per CSM, so the panel reads a few rows per person.

    QBRs due: a tier-1 account with no QBR in the last 100 days; a tier-2 account renewing (its
    current contracts' latest end) within 120 days with no QBR in the last 100 days. Tier 3 has
    no QBR cadence."""
    lines: dict[int | None, WorkloadLine] = {}

    def line(person_id):
        return lines.setdefault(person_id, WorkloadLine(None, {1: 0, 2: 0, 3: 0}))

    accounts = Account.objects.filter(**scope_filter(account_ids, "pk")).order_by()
    for csm_id, tier, n in (
        accounts.values("csm_id", "tier").annotate(n=Count("pk")).values_list("csm_id", "tier", "n")
    ):
        entry = line(csm_id)
        entry.accounts += n
        entry.tiers[tier] += n
    active = active_contracts(account_ids=account_ids, on=on)
    for csm_id, arr in (
        active.values("account__csm_id")
        .annotate(arr=Sum("arr"))
        .values_list("account__csm_id", "arr")
    ):
        line(csm_id).arr = arr or ZERO
    day = latest_snapshot_date(on_or_before=on)
    if day is not None:
        for csm_id, n in (
            HealthSnapshot.objects.filter(
                date=day, band__in=("yellow", "red"), **scope_filter(account_ids)
            )
            .order_by()
            .values("account__csm_id")
            .annotate(n=Count("pk"))
            .values_list("account__csm_id", "n")
        ):
            line(csm_id).not_green = n
    recent_qbr = Touchpoint.objects.filter(
        kind=TouchpointKind.QBR,
        date__lte=on,
        date__gte=on - timedelta(days=QBR_TIER1_DAYS),
    ).values("account_id")
    renewing = (
        active.values("account_id")
        .annotate(renewal=Max("end"))
        .filter(renewal__lte=on + timedelta(days=QBR_TIER2_RENEWAL_DAYS))
        .values("account_id")
    )
    for csm_id, n in (
        accounts.filter(Q(tier=Tier.STRATEGIC) | Q(tier=Tier.SCALED, pk__in=renewing))
        .exclude(pk__in=recent_qbr)
        .values("csm_id")
        .annotate(n=Count("pk"))
        .values_list("csm_id", "n")
    ):
        line(csm_id).qbrs_due = n
    tasks = Task.objects.filter(status=TaskStatus.OPEN, owner__isnull=False)
    if account_ids is not None:
        tasks = tasks.filter(owner=user)
    else:
        for person in User.objects.filter(role=Role.CSM, is_active=True):
            line(person.pk)
    for owner_id, n, overdue in (
        tasks.order_by()
        .values("owner_id")
        .annotate(n=Count("pk"), overdue=Count("pk", filter=Q(due__lt=on)))
        .values_list("owner_id", "n", "overdue")
    ):
        entry = line(owner_id)
        entry.open_tasks, entry.overdue_tasks = n, overdue
    people = User.objects.in_bulk([k for k in lines if k is not None])
    for person_id, entry in lines.items():
        entry.person = people.get(person_id)
    ordered = sorted(
        lines.values(),
        key=lambda w: (w.person is None, -w.arr, w.person.display_name if w.person else ""),
    )
    pooled = Task.objects.filter(status=TaskStatus.OPEN, owner__isnull=True).exclude(pool="")
    if account_ids is not None:
        tiers = {tier for entry in lines.values() for tier, n in entry.tiers.items() if n}
        pooled = pooled.filter(pool__in=sorted(f"tier{tier}" for tier in tiers))
    pools = []
    # A task waits from the day its play started (or, on its own, the day it was created).
    waiting_since = Coalesce("play__started_on", TruncDate("created_at"))
    for pool, n, oldest in (
        pooled.order_by("pool")
        .values("pool")
        .annotate(n=Count("pk"), oldest=Min(waiting_since))
        .values_list("pool", "n", "oldest")
    ):
        if isinstance(oldest, str):
            oldest = date.fromisoformat(oldest[:10])
        pools.append((pool, n, (on - oldest).days if oldest else None))
    ages = [age for _, _, age in pools if age is not None]
    return WorkloadPanel(
        on=on,
        lines=ordered,
        pool_size=sum(n for _, n, _ in pools),
        pool_oldest_days=max(ages) if ages else None,
        pools=pools,
    )


# --- warming --------------------------------------------------------------------------------


def panels_warm(*, on: date) -> int:
    """Compute the cached panels (the health series and retention) for the whole book and for
    each CSM's book, as the cockpit's first visitors would ask for them. Each is skipped when
    its cache entry for the current data is already there. Returns the scopes warmed."""
    scopes: list[list[int] | None] = [None]
    owned: dict[int, list[int]] = {}
    for csm_id, pk in (
        Account.objects.filter(csm__role=Role.CSM, csm__is_active=True)
        .order_by("csm_id", "pk")
        .values_list("csm_id", "pk")
    ):
        owned.setdefault(csm_id, []).append(pk)
    scopes.extend(owned.values())
    for ids in scopes:
        health_panel(account_ids=ids, on=on, tier=None, csm_id=None)
        retention_panel(account_ids=ids, as_of=on)
    return len(scopes)
