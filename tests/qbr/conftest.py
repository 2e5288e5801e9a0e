"""Fixtures of the QBR tests: Alice's acme built by hand over the last full quarter, so every
section's numbers are known, and a bare account with no success plan, feedback or commit.

acme over the quarter (N days, S to E):
- a developer contract from S for a year with a commit of 100,000 units;
- 100 units a day on Ethereum (dataset ethereum.dex.trades) every day of the quarter, and
  20 a day on Base (base.raw.transactions) in the 60 days before it only (lapsed);
- a success plan in EUR: 1.5 FTE saved, EUR 365,000 of infra avoided a year (1,000 a day),
  60 days sooner to market, outcomes naming Ethereum;
- value_defined reached on S + 5, first_query on S - 100, a production pipeline still open;
- three similar accounts (institution, developer): two use Solana (solana.dex.trades) in the
  quarter, one Polygon; a self-serve account on Bitcoin is not similar;
- two feedback items: Solana DEX trades asked 60 days before S, shipped on S + 40; a Polygon
  request whose theme is planned;
- health green at 81 on E.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import Account
from cs_portal import clock
from health.models import UsageFact
from playbooks.models import MilestoneKey
from qbr.rules import last_full_quarter
from tests.factories import (
    AccountFactory,
    ContractFactory,
    FeedbackItemFactory,
    HealthSnapshotFactory,
    MilestoneFactory,
    SuccessPlanFactory,
    ThemeFactory,
)

# The sections' titles in their default order (the health line first, hidden by default).
TITLES = [
    "Health summary",
    "Outcomes",
    "Usage as evidence",
    "Untapped value",
    "Commit vs consumption",
    "Roadmap: what you asked for",
    "Next steps",
]


@dataclass
class Quarter:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@pytest.fixture
def quarter() -> Quarter:
    return Quarter(*last_full_quarter(clock.today()))


def daily(account: Account, start: date, end: date, value: float, **dims) -> list[UsageFact]:
    days = (end - start).days + 1
    return [
        UsageFact(
            account=account,
            date=start + timedelta(days=i),
            metric="units",
            value=value,
            **dims,
        )
        for i in range(days)
    ]


@pytest.fixture
def acme_book(acme, quarter) -> Account:
    s, e = quarter.start, quarter.end
    ten = s + timedelta(days=9)
    acme.tier = 1
    acme.save(update_fields=["tier"])
    ContractFactory(
        account=acme, start=s, end=s + timedelta(days=364), commit_units=Decimal(100_000)
    )
    facts = daily(
        acme, s, e, 100, product="developer", chain="ethereum", dataset="ethereum.dex.trades"
    )
    facts += daily(
        acme,
        s - timedelta(days=60),
        s - timedelta(days=1),
        20,
        product="developer",
        chain="base",
        dataset="base.raw.transactions",
    )
    peers = [AccountFactory(name=f"Peer {i}") for i in range(3)]
    for peer in peers:
        ContractFactory(account=peer, start=s, end=s + timedelta(days=364))
    facts += daily(
        peers[0], s, ten, 5, product="developer", chain="solana", dataset="solana.dex.trades"
    )
    facts += daily(
        peers[1], s, ten, 5, product="developer", chain="solana", dataset="solana.dex.trades"
    )
    facts += daily(peers[2], s, ten, 5, product="developer", chain="polygon")
    other = AccountFactory(name="Self-serve", segment="self_serve")
    ContractFactory(account=other, start=s, end=s + timedelta(days=364))
    facts += daily(other, s, ten, 5, product="developer", chain="bitcoin")
    UsageFact.objects.bulk_create(facts)
    SuccessPlanFactory(
        account=acme,
        outcomes="Compliance dashboard on decoded Ethereum data\nRetire the in-house indexer",
        currency="EUR",
        ftes_saved=Decimal("1.5"),
        infra_avoided_per_year=Decimal(365_000),
        time_to_market_days=60,
        status="on_track",
    )
    MilestoneFactory(
        account=acme,
        key=MilestoneKey.VALUE_DEFINED,
        due=s + timedelta(days=7),
        completed_on=s + timedelta(days=5),
        evidence="Kickoff with the champion",
    )
    MilestoneFactory(
        account=acme,
        key=MilestoneKey.FIRST_QUERY,
        due=s - timedelta(days=90),
        completed_on=s - timedelta(days=100),
    )
    MilestoneFactory(
        account=acme, key=MilestoneKey.FIRST_PRODUCTION_PIPELINE, due=s + timedelta(days=30)
    )
    shipped = ThemeFactory(
        title="Coverage gap: Solana DEX trades",
        chain="solana",
        status="shipped",
        shipped_on=s + timedelta(days=40),
    )
    planned = ThemeFactory(title="Coverage gap: Polygon", chain="polygon", status="planned")
    FeedbackItemFactory(
        account=acme, theme=shipped, date=s - timedelta(days=60), title="Solana DEX trades"
    )
    FeedbackItemFactory(
        account=acme, theme=planned, date=s + timedelta(days=3), title="Polygon lending"
    )
    HealthSnapshotFactory(account=acme, date=e, score=81, band="green")
    return acme


@pytest.fixture
def bare(alice, quarter) -> Account:
    """Alice's second account: a contract without commit, nothing else."""
    account = AccountFactory(external_id="bare", name="Bare Basics", tier=2, csm=alice)
    ContractFactory(account=account, start=quarter.start, end=quarter.start + timedelta(days=364))
    return account
