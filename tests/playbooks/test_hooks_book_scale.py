"""The recompute hooks at book scale: tier suggestions rewritten only when their numbers
changed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health.services import last_complete_day
from playbooks import tiering
from playbooks.models import TierSuggestion
from tests.factories import AccountFactory, ContractFactory
from tests.playbooks import conftest_hc

pytestmark = pytest.mark.django_db
D = last_complete_day()


# --- tier suggestions -------------------------------------------------------------------------


def spiking(n: int, ratio: float = 6.0):
    accounts = []
    for _ in range(n):
        a = AccountFactory(tier=3)
        ContractFactory(account=a, arr=Decimal(10_000), start=D - timedelta(days=100))
        conftest_hc.snapshot(a, D, facts={"spike_ratio": ratio})
        accounts.append(a)
    return accounts


def updates(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().startswith("UPDATE")]


def test_a_refresh_with_the_same_numbers_writes_nothing():
    spiking(4)
    assert len(tiering.tier_suggestions_refresh(as_of=D)) == 4
    before = list(TierSuggestion.objects.order_by("pk").values())

    with CaptureQueriesContext(connection) as ctx:
        assert tiering.tier_suggestions_refresh(as_of=D) == []

    assert updates(ctx) == []
    assert list(TierSuggestion.objects.order_by("pk").values()) == before


def test_changed_numbers_rewrite_only_those_suggestions():
    same, moved = spiking(2)
    tiering.tier_suggestions_refresh(as_of=D)
    conftest_hc.snapshot(moved, D, facts={"spike_ratio": 9.25})
    kept = TierSuggestion.objects.get(account=same)

    with CaptureQueriesContext(connection) as ctx:
        tiering.tier_suggestions_refresh(as_of=D)

    assert len(updates(ctx)) == 1
    assert TierSuggestion.objects.get(account=same).evidence == kept.evidence
    rewritten = TierSuggestion.objects.get(account=moved)
    assert rewritten.evidence["spike_ratio"] == 9.25 and "9.2×" in rewritten.reason
    assert rewritten.evidence["as_of"] == D.isoformat()
