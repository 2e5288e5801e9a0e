"""Fixtures of the expansion tests: an AE persona (Ava) on Alice's account acme, with a
contract, and an identified opportunity on it; tasks run inline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Account, Role, User
from cs_portal import clock
from expansion.models import Opportunity
from tests.factories import ContractFactory, OpportunityFactory, StageChangeFactory, UserFactory


@pytest.fixture(autouse=True)
def _inline(eager_celery):
    yield


@pytest.fixture
def ava(db) -> User:
    """An account executive."""
    return UserFactory(email="ava@cs.example", name="Ava Exec", role=Role.AE)


@pytest.fixture
def ava_client(ava) -> Client:
    client = Client()
    client.force_login(ava)
    return client


@pytest.fixture
def acme_ae(acme, ava) -> Account:
    """Acme with Ava as its AE and a developer contract: $100,000 ARR, 300,000 units."""
    acme.ae = ava
    acme.seats = 10
    acme.save()
    start = clock.today() - timedelta(days=181)
    ContractFactory(
        account=acme,
        start=start,
        end=start + timedelta(days=364),
        arr=Decimal("100000"),
        plan="developer",
        commit_units=Decimal("300000"),
    )
    return acme


@pytest.fixture
def opp(acme_ae) -> Opportunity:
    """An identified seats opportunity on acme, owned by Alice."""
    o = OpportunityFactory(account=acme_ae)
    StageChangeFactory(opportunity=o)
    return o
