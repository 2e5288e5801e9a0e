"""Shared helpers for the data-trust tests: a catalogue, observations and usage, all imported
through run_import (as the platform and a customer's files would deliver them).

Dates are relative to the calendar (UTC): the freshness monitor, the heads-ups and the live-day
health rule all read "now".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cs_portal.imports import run_import
from health.models import Incident
from tests.factories import AccountFactory, ContractFactory

TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)


def ok(result):
    assert result.ok, [e.as_dict() for e in result.errors]
    return result


def errors(result) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in result.errors]


def catalogue(*rows: dict):
    return ok(run_import("datasets", json_rows=list(rows)))


def observe(dataset: str, lags: list[float], *, start: datetime, every_minutes: int = 10):
    """One freshness file: `lags` observed every `every_minutes` from `start`."""
    rows = [
        {
            "dataset": dataset,
            "observed_at": (start + timedelta(minutes=every_minutes * n)).isoformat(),
            "lag_minutes": lag,
        }
        for n, lag in enumerate(lags)
    ]
    return ok(run_import("freshness", json_rows=rows))


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


def usage_rows(
    account: str,
    dataset: str,
    days: list[date],
    *,
    metric: str = "units",
    value: float = 1000,
    **dims,
) -> list[dict]:
    chain = dataset.split(".")[0] if dataset else ""
    row = {"metric": metric, "value": value, "chain": chain, "dataset": dataset, **dims}
    return [{"account": account, "date": d.isoformat(), **row} for d in days]


def last_days(n: int, *, until: date = YESTERDAY) -> list[date]:
    return [until - timedelta(days=k) for k in range(n)]


def healthy_rows(account: str, dataset: str, n: int = 60) -> list[dict]:
    """Steady usage on every signal an institution has, touching one dataset daily."""
    rows = usage_rows(account, dataset, last_days(n), product="developer")
    for d in last_days(n):
        rows += [
            {"account": account, "date": d.isoformat(), "metric": "api_calls", "value": 500},
            {"account": account, "date": d.isoformat(), "metric": "active_users", "value": 6},
        ]
    return rows


def use(rows: list[dict]):
    return ok(run_import("usage", json_rows=rows))


@pytest.fixture
def logs(db):
    """ethereum.raw.logs with a 15-minute SLA."""
    catalogue(
        {
            "dataset": "ethereum.raw.logs",
            "chains": "ethereum",
            "freshness_sla_minutes": 15,
            "description": "Event logs",
        }
    )
    from datatrust.models import Dataset

    return Dataset.objects.get(name="ethereum.raw.logs")


@pytest.fixture
def world(alice, bob):
    """Two accounts on ethereum.raw.logs (one of them bob's tier-1 with $250k ARR), a breach
    on it, an upcoming schema change on ethereum.raw.traces and a resolved outage."""
    acme = AccountFactory(external_id="acme", name="Acme Analytics", tier=2, csm=alice)
    globex = AccountFactory(external_id="globex", name="Globex Capital", tier=1, csm=bob)
    ContractFactory(account=acme, arr=Decimal("100000"))
    ContractFactory(account=globex, arr=Decimal("250000"))
    AccountFactory(external_id="initech", name="Initech", tier=3)
    use(
        usage_rows("acme", "ethereum.raw.logs", [YESTERDAY])
        + usage_rows("globex", "ethereum.raw.logs", [TODAY - timedelta(days=3)])
        + usage_rows("globex", "ethereum.raw.traces", [YESTERDAY])
        + usage_rows("initech", "base.raw.blocks", [YESTERDAY])
    )
    catalogue(
        {
            "dataset": "ethereum.raw.logs",
            "chains": "ethereum",
            "freshness_sla_minutes": 15,
            "description": "Event logs",
        },
        {"dataset": "ethereum.raw.traces", "chains": "ethereum", "freshness_sla_minutes": 20},
        {"dataset": "crosschain.lending.metrics_daily", "chains": "ethereum;base"},
    )
    observe("ethereum.raw.logs", [9, 31, 40, 47], start=hours_ago(2))
    observe("ethereum.raw.traces", [8], start=hours_ago(1))
    ok(
        run_import(
            "incidents",
            json_rows=[
                {
                    "key": "CHG-TRACES",
                    "kind": "schema_change",
                    "severity": "medium",
                    "started": YESTERDAY.isoformat(),
                    "datasets": "ethereum.raw.traces",
                    "title": "trace_address becomes an array",
                    "effective": (TODAY + timedelta(days=21)).isoformat(),
                    "note": "Use the array form.",
                },
                {
                    "key": "INC-OLD",
                    "kind": "outage",
                    "severity": "low",
                    "started": (TODAY - timedelta(days=90)).isoformat(),
                    "resolved": (TODAY - timedelta(days=89)).isoformat(),
                    "chains": "base",
                    "title": "Base outage",
                },
            ],
        )
    )
    return Incident.objects.get(auto=True)
