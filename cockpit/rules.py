"""Retention, decided without the database: per-account values at two dates in, NRR and GRR out.

The same rules serve both bases. On the contract basis an account's value on a day is its ARR
that day (the sum of the ARR of its contracts active that day); on the consumption basis it is
what it consumed over the trailing 12 months, priced at its contract's unit price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
EXPANSION, CONTRACTION, CHURN, FLAT = "expansion", "contraction", "churn", "flat"
MOVEMENTS = (EXPANSION, CONTRACTION, CHURN)
# SaaS Capital, "2023 B2B SaaS Retention Benchmarks": median NRR and GRR across contract
# sizes. Shown beside our figures so a manager reads them in context, never used to decide.
BENCHMARK = {
    "source": "SaaS Capital 2023 B2B SaaS retention benchmarks (medians by contract size)",
    "nrr": (Decimal("1.00"), Decimal("1.10")),
    "grr": (Decimal("0.90"), Decimal("0.93")),
}


@dataclass(frozen=True)
class Movement:
    """One cohort account between the two dates."""

    account_id: int
    start: Decimal
    end: Decimal
    kind: str  # expansion, contraction, churn or flat

    @property
    def change(self) -> Decimal:
        return self.end - self.start


@dataclass
class Retention:
    starting: Decimal = ZERO
    ending: Decimal = ZERO
    expansion: Decimal = ZERO
    contraction: Decimal = ZERO
    churn: Decimal = ZERO
    cohort_accounts: int = 0
    movements: list[Movement] = field(default_factory=list)

    def totals(self) -> Retention:
        """The figures without the per-account movements (small enough to cache)."""
        return replace(self, movements=[])

    @property
    def retained(self) -> Decimal:
        """Σ min(value on the date, value a year before): what GRR counts."""
        return self.starting - self.contraction - self.churn

    @property
    def nrr(self) -> Decimal | None:
        return self.ending / self.starting if self.starting else None

    @property
    def grr(self) -> Decimal | None:
        return self.retained / self.starting if self.starting else None

    def of_kind(self, kind: str) -> list[Movement]:
        return sorted(
            (m for m in self.movements if m.kind == kind),
            key=lambda m: (-abs(m.change), m.account_id),
        )


def classify(start: Decimal, end: Decimal) -> str:
    """A cohort account by its two endpoints only: what happened in between (a lapse and a
    reactivation, a dip and a recovery) does not count."""
    if end <= 0:
        return CHURN
    if end > start:
        return EXPANSION
    if end < start:
        return CONTRACTION
    return FLAT


def retention(start: Mapping[int, Decimal], end: Mapping[int, Decimal]) -> Retention:
    """NRR and GRR of the cohort of accounts with a positive value at `start`.

    New logos (nothing at the start, something at the end) are left out; a cohort account
    missing from `end` churned and counts at zero. NRR = Σ end ÷ Σ start; GRR = Σ min(end,
    start) ÷ Σ start, so it never exceeds 1."""
    out = Retention()
    for account_id in sorted(start):
        before = _cents(start[account_id])
        if before <= 0:
            continue
        after = max(_cents(end.get(account_id, ZERO)), ZERO)
        kind = classify(before, after)
        out.movements.append(Movement(account_id, before, after, kind))
        out.cohort_accounts += 1
        out.starting += before
        out.ending += after
        if kind == EXPANSION:
            out.expansion += after - before
        elif kind == CONTRACTION:
            out.contraction += before - after
        elif kind == CHURN:
            out.churn += before
    return out


def _cents(value) -> Decimal:
    return Decimal(value).quantize(CENT) if not isinstance(value, Decimal) else value.quantize(CENT)


# --- contract basis ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractTerm:
    account_id: int
    start: date
    end: date
    arr: Decimal
    commit_units: Decimal | None = None

    @property
    def unit_price(self) -> Decimal:
        """Dollars per unit: ARR ÷ committed units where a commit exists; else 1 (the units
        themselves are the value) on a paid contract, and 0 on a free one (ARR 0: usage on
        the free tier is not revenue, so a developer who starts paying is a new logo here as
        on the contract basis, not a thousandfold expansion)."""
        if self.commit_units:
            return self.arr / self.commit_units
        return Decimal(1) if self.arr > 0 else ZERO


def arr_on(contracts: Iterable[ContractTerm], day: date) -> dict[int, Decimal]:
    """ARR per account on `day`: the sum of the ARR of its contracts active that day."""
    out: dict[int, Decimal] = {}
    for c in contracts:
        if c.start <= day <= c.end:
            out[c.account_id] = out.get(c.account_id, ZERO) + c.arr
    return out


def year_before(day: date) -> date:
    """The same day a year earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def month_ends(as_of: date, months: int = 12) -> list[date]:
    """The last `months` measuring days, oldest first: the ends of the previous months and
    `as_of` itself as the newest."""
    days = [as_of]
    cursor = as_of.replace(day=1) - timedelta(days=1)
    while len(days) < months:
        days.append(cursor)
        cursor = cursor.replace(day=1) - timedelta(days=1)
    return sorted(days)


# --- consumption basis -----------------------------------------------------------------------


def price_periods(contracts: Iterable[ContractTerm]) -> list[tuple[int, date, date, Decimal]]:
    """(account, first day, last day, unit price) periods that never overlap within an account:
    where two contracts are active on the same day the one that started last sets the price,
    as it sets the plan and the commit elsewhere."""
    by_account: dict[int, list[ContractTerm]] = {}
    for c in contracts:
        by_account.setdefault(c.account_id, []).append(c)
    out = []
    for account_id, terms in sorted(by_account.items()):
        terms.sort(key=lambda c: c.start)
        for i, c in enumerate(terms):
            last = c.end
            if i + 1 < len(terms):
                last = min(last, terms[i + 1].start - timedelta(days=1))
            if last >= c.start:
                out.append((account_id, c.start, last, c.unit_price))
    return out
