"""Retention read from the database: contract terms and priced consumption, set-based.

Two queries at most whatever the size of the book: the contracts overlapping the period (few
rows per account) and the units consumed, summed in SQL per account, window and contract.
`rules.py` does the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Min

from accounts.models import Account, Contract
from cs_portal.sql import columns
from health.models import UsageDay, UsageFact

from .rules import (
    ZERO,
    ContractTerm,
    Retention,
    arr_on,
    month_ends,
    price_periods,
    retention,
    year_before,
)

CONTRACT, CONSUMPTION = "contract", "consumption"
BASES = (CONTRACT, CONSUMPTION)


def contract_terms(
    *, account_ids: list[int] | None, since: date, until: date
) -> list[ContractTerm]:
    """The contracts overlapping [since, until] (of `account_ids`, or the whole book)."""
    qs = Contract.objects.filter(start__lte=until, end__gte=since)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return [
        ContractTerm(*row)
        for row in qs.order_by().values_list("account_id", "start", "end", "arr", "commit_units")
    ]


def consumption_windows(
    *, boundaries: list[date], account_ids: list[int] | None
) -> dict[int, list[Decimal]]:
    """Priced consumption per account in each window (boundaries[i], boundaries[i + 1]].

    Units on a day are priced at the unit price of the contract covering it (the one that
    started last where two overlap): ARR ÷ committed units, or 1 where the contract commits no
    units. Units on a day no contract covers are not revenue and are not counted. The units
    are summed in SQL per account, window and price period; only those sums reach Python."""
    if account_ids is not None and not account_ids:
        return {}
    first, last = boundaries[0], boundaries[-1]
    periods = price_periods(contract_terms(account_ids=account_ids, since=first, until=last))
    if not periods:
        return {}
    u = columns(UsageFact, "account", "date", "metric", "value")
    c = columns(Contract, "account", "start", "end", "arr", "commit_units")
    windows = " ".join(f"WHEN u.{u.date} <= %s THEN {i}" for i in range(len(boundaries) - 1))
    scope, scope_params = "", []
    if account_ids is not None:
        scope = f" AND u.{u.account} IN ({', '.join(['%s'] * len(account_ids))})"
        scope_params = list(account_ids)
    # Each contract's priced period ends the day before the account's next contract starts.
    sql = f"""
        WITH terms AS (
            SELECT {c.account} AS account_id, {c.start} AS first_day, {c.end} AS last_day,
                   LEAD({c.start}) OVER (PARTITION BY {c.account} ORDER BY {c.start}) AS next_start
            FROM {c.table}
            WHERE {c.start} <= %s AND {c.end} > %s
        )
        SELECT u.{u.account}, t.first_day, CASE {windows} END AS win, SUM(u.{u.value})
        FROM {u.table} u
        JOIN terms t ON t.account_id = u.{u.account}
             AND u.{u.date} >= t.first_day AND u.{u.date} <= t.last_day
             AND (t.next_start IS NULL OR u.{u.date} < t.next_start)
        WHERE u.{u.metric} = 'units' AND u.{u.date} > %s AND u.{u.date} <= %s{scope}
        GROUP BY u.{u.account}, t.first_day, win
    """
    params = [last, first, *boundaries[1:], first, last, *scope_params]
    price = {(a, start): p for a, start, _, p in periods}
    out: dict[int, list[Decimal]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for account_id, first_day, win, units in cursor.fetchall():
            if isinstance(first_day, str):
                first_day = date.fromisoformat(first_day)
            unit_price = price.get((account_id, first_day))
            if unit_price is None or win is None:
                continue
            row = out.setdefault(account_id, [ZERO] * (len(boundaries) - 1))
            # Units carry at most six meaningful decimals; the float sum's noise is cut off.
            row[win] += Decimal(repr(round(units, 6))) * unit_price
    return out


def _window_sum(
    values: dict[int, list[Decimal]], boundaries: list[date], lo: date, hi: date
) -> dict[int, Decimal]:
    """Per account, the sum of the windows between boundary `lo` and boundary `hi`."""
    i, j = boundaries.index(lo), boundaries.index(hi)
    return {a: sum(row[i:j], ZERO) for a, row in values.items()}


def usage_since() -> date | None:
    """The first day any usage has landed for."""
    return UsageDay.objects.aggregate(first=Min("date"))["first"]


def covered(since: date | None, cohort_start: date) -> bool:
    """Whether the usage held reaches back over the whole base year (it starts the day after
    `cohort_start`): a base year seen in part would make a partial base look like growth."""
    return since is None or since <= cohort_start + timedelta(days=1)


@dataclass
class RetentionPoint:
    as_of: date
    contract: Retention
    consumption: Retention


def retention_series(
    *, days: list[date], account_ids: list[int] | None, bases: tuple[str, ...] = BASES
) -> list[RetentionPoint]:
    """Trailing-12-month retention on `bases` as of each of `days` (two queries in all)."""
    starts = {d: year_before(d) for d in days}
    cohort_starts = {d: year_before(s) for d, s in starts.items()}
    terms = contract_terms(account_ids=account_ids, since=min(starts.values()), until=max(days))
    # Consumption only for the days whose whole earlier year the usage held covers: with none,
    # the units are not read at all.
    since = usage_since() if CONSUMPTION in bases else None
    measured = [d for d in days if CONSUMPTION in bases and covered(since, cohort_starts[d])]
    boundaries = sorted(
        {*measured, *(starts[d] for d in measured), *map(cohort_starts.get, measured)}
    )
    consumed = (
        consumption_windows(boundaries=boundaries, account_ids=account_ids) if measured else {}
    )
    out = []
    for day in days:
        start = starts[day]
        out.append(
            RetentionPoint(
                as_of=day,
                contract=retention(arr_on(terms, start), arr_on(terms, day)),
                consumption=retention(
                    _window_sum(consumed, boundaries, cohort_starts[day], start),
                    _window_sum(consumed, boundaries, start, day),
                )
                if day in measured
                else Retention(),
            )
        )
    return out


def retention_as_of(*, as_of: date, basis: str, account_ids: list[int] | None) -> Retention:
    """Trailing-12-month retention as of `as_of` on one basis."""
    point = retention_series(days=[as_of], account_ids=account_ids, bases=(basis,))[0]
    return point.contract if basis == CONTRACT else point.consumption


def retention_trend(*, as_of: date, account_ids: list[int] | None) -> list[RetentionPoint]:
    """Trailing-12-month retention measured at the end of each of the last 12 months."""
    return retention_series(days=month_ends(as_of), account_ids=account_ids)


def account_names(ids: list[int]) -> dict[int, Account]:
    return Account.objects.select_related("csm").in_bulk(ids)
