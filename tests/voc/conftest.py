"""Fixtures of the voice-of-the-customer tests: two more accounts beside Alice's acme (Bob's
tier-1 globex and a tier-3 self-serve initech), each with a contract of known ARR; usage is
imported through the pipeline and scored by a real recompute; tasks run inline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import Account
from cs_portal import clock
from cs_portal.imports import run_import
from tests.factories import AccountFactory, ContractFactory


@pytest.fixture(autouse=True)
def _inline(eager_celery):
    yield


@pytest.fixture
def as_of() -> date:
    return clock.last_complete_day()


def contract(account: Account, arr: int, *, ends_in_days: int = 300) -> None:
    end = clock.today() + timedelta(days=ends_in_days)
    ContractFactory(account=account, start=end - timedelta(days=364), end=end, arr=Decimal(arr))


@pytest.fixture
def book(acme, bob) -> dict[str, Account]:
    """acme $100,000 (Alice, tier 2), globex $250,000 (Bob, tier 1), initech $20,000 (tier 3,
    no CSM); every contract renews in 300 days."""
    globex = AccountFactory(external_id="globex", name="Globex", tier=1, csm=bob)
    initech = AccountFactory(
        external_id="initech", name="Initech", tier=3, csm=None, segment="self_serve"
    )
    for account, arr in ((acme, 100_000), (globex, 250_000), (initech, 20_000)):
        contract(account, arr)
    return {"acme": acme, "globex": globex, "initech": initech}


def import_usage(rows: list[dict]) -> None:
    result = run_import("usage", json_rows=rows)
    assert result.ok, [e.as_dict() for e in result.errors]


def failed(account: str, day: date, value: float, *, reason="chain_not_covered", **dims) -> dict:
    return {
        "account": account,
        "date": day.isoformat(),
        "metric": "failed_queries",
        "value": value,
        "reason": reason,
        **dims,
    }


def used(account: str, day: date, value: float, metric: str = "units", **dims) -> dict:
    return {"account": account, "date": day.isoformat(), "metric": metric, "value": value, **dims}
