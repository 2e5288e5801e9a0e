"""The hand-built cohorts the retention tests check to the cent, as of 30 June 2026.

Contract basis (ARR on 30 June 2025 → ARR on 30 June 2026):
- expands:     100,000.00 → 130,000.50   expansion  30,000.50
- shrinks:      80,000.00 →  60,000.25   contraction 19,999.75
- churns:       50,000.00 →       0.00   churn      50,000.00
- new logo:          0.00 →  40,000.00   excluded
- reactivates:  20,000.00 → (lapse) → 25,000.00   expansion 5,000.00 (by its endpoints)
- stacked:      10,000 + 5,000 → 15,000.00   flat
- win-back:          0.00 →  30,000.00   excluded (no ARR a year before)
Alice owns expands, shrinks and churns; Bob the rest.

Consumption basis (units × unit price; (30 Jun 2024, 30 Jun 2025] → (30 Jun 2025, 30 Jun 2026]):
- metered (ARR 120,000 / 1,200,000 units = 0.10): 500,000 u → 50,000.00; 800,000 u → 80,000.00
- uncommitted (no commit: 1 per unit):             3,000 u →  3,000.00; 1,000.5 u → 1,000.50
- lapsed (0.10; contract ends 31 Dec 2025):        200,000 u → 20,000.00; 50,000 u after the end → 0
- repriced (0.10, then 60,000 / 400,000 = 0.15):   100,000 u → 10,000.00; 100,000 u → 15,000.00
- fresh (new logo, 0.10):                          none → 9,000.00, excluded
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from cockpit import selectors
from tests.factories import AccountFactory, ContractFactory, UsageFactFactory

AS_OF = date(2026, 6, 30)


@pytest.fixture(autouse=True)
def _own_retention_cache(monkeypatch):
    """Each test reads the cockpit's cached figures through keys of its own."""
    monkeypatch.setattr(selectors, "CACHE_PREFIX", f"test:{uuid.uuid4().hex}:")


def _contract(account, start: str, end: str, arr: str, commit: str | None = None) -> None:
    ContractFactory(
        account=account,
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        arr=Decimal(arr),
        commit_units=Decimal(commit) if commit else None,
    )


@pytest.fixture
def contract_cohort(alice, bob) -> dict:
    accounts = {
        name: AccountFactory(external_id=name, name=name.title(), csm=owner)
        for name, owner in [
            ("expands", alice),
            ("shrinks", alice),
            ("churns", alice),
            ("newlogo", bob),
            ("reactivates", bob),
            ("stacked", bob),
            ("winback", bob),
        ]
    }
    _contract(accounts["expands"], "2025-01-01", "2025-12-31", "100000.00")
    _contract(accounts["expands"], "2026-01-01", "2026-12-31", "130000.50")
    _contract(accounts["shrinks"], "2025-03-01", "2026-02-28", "80000.00")
    _contract(accounts["shrinks"], "2026-03-01", "2027-02-28", "60000.25")
    _contract(accounts["churns"], "2024-07-01", "2026-03-31", "50000.00")
    _contract(accounts["newlogo"], "2026-01-01", "2026-12-31", "40000.00")
    _contract(accounts["reactivates"], "2025-01-01", "2025-12-31", "20000.00")
    _contract(accounts["reactivates"], "2026-04-01", "2027-03-31", "25000.00")
    _contract(accounts["stacked"], "2025-01-01", "2025-12-31", "10000.00")
    _contract(accounts["stacked"], "2025-02-01", "2026-01-31", "5000.00")
    _contract(accounts["stacked"], "2026-02-01", "2027-01-31", "15000.00")
    _contract(accounts["winback"], "2023-01-01", "2024-12-31", "30000.00")
    _contract(accounts["winback"], "2026-05-01", "2027-04-30", "30000.00")
    return accounts


def _units(account, day: str, value: float, metric: str = "units") -> None:
    UsageFactFactory(account=account, date=date.fromisoformat(day), metric=metric, value=value)


@pytest.fixture
def consumption_cohort(alice, bob) -> dict:
    accounts = {
        name: AccountFactory(external_id=name, name=name.title(), csm=owner)
        for name, owner in [
            ("metered", alice),
            ("uncommitted", alice),
            ("lapsed", bob),
            ("repriced", bob),
            ("fresh", bob),
        ]
    }
    _contract(accounts["metered"], "2024-07-01", "2026-06-30", "120000.00", "1200000")
    _units(accounts["metered"], "2025-01-15", 500_000)
    _units(accounts["metered"], "2026-01-15", 800_000)
    _units(accounts["metered"], "2026-01-15", 7, metric="queries")  # not a unit: ignored
    _units(accounts["metered"], "2024-06-30", 999_999)  # the day before the window: ignored
    _contract(accounts["uncommitted"], "2024-07-01", "2026-12-31", "10000.00")
    _units(accounts["uncommitted"], "2025-02-01", 3_000)
    _units(accounts["uncommitted"], "2026-02-01", 1_000.5)
    _contract(accounts["lapsed"], "2024-07-01", "2025-12-31", "36000.00", "360000")
    _units(accounts["lapsed"], "2025-05-01", 200_000)
    _units(accounts["lapsed"], "2026-02-01", 50_000)  # no contract that day: not revenue
    _contract(accounts["repriced"], "2024-07-01", "2025-06-30", "50000.00", "500000")
    _contract(accounts["repriced"], "2025-07-01", "2026-06-30", "60000.00", "400000")
    _units(accounts["repriced"], "2025-03-01", 100_000)
    _units(accounts["repriced"], "2026-03-01", 100_000)
    _contract(accounts["fresh"], "2026-01-01", "2026-12-31", "12000.00", "120000")
    _units(accounts["fresh"], "2026-02-01", 90_000)
    return accounts
