"""Factories for the health app: usage, landed days, incidents, model versions, snapshots and
the recompute outbox."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import factory
from django.db.models import Max

from health.engine import DEFAULT_WEIGHTS, Signal
from health.models import (
    Band,
    HealthModel,
    HealthSnapshot,
    Incident,
    IncidentKind,
    Metric,
    RecomputeRequest,
    Severity,
    UsageDay,
    UsageDims,
    UsageFact,
)
from health.services import health_model_current
from tests.factories.accounts import AccountFactory


def _yesterday() -> date:
    return date.today() - timedelta(days=1)


class UsageFactFactory(factory.django.DjangoModelFactory):
    """Yesterday's units on one dataset; a test that scores it also marks the day landed."""

    class Meta:
        model = UsageFact

    account = factory.SubFactory(AccountFactory)
    date = factory.LazyFunction(_yesterday)
    metric = Metric.UNITS
    product = "developer"
    chain = "ethereum"
    dataset = "ethereum.core.transactions"
    value = 1000.0


class UsageDimsFactory(factory.django.DjangoModelFactory):
    """One interned dimension tuple (facts usually intern theirs when saved)."""

    class Meta:
        model = UsageDims
        django_get_or_create = ("product", "chain", "dataset", "reason")

    product = "developer"
    chain = "ethereum"
    dataset = "ethereum.core.transactions"
    reason = ""


class UsageDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageDay
        django_get_or_create = ("date",)

    date = factory.LazyFunction(_yesterday)


class IncidentFactory(factory.django.DjangoModelFactory):
    """An open freshness incident on one Ethereum dataset, started yesterday."""

    class Meta:
        model = Incident

    key = factory.Sequence(lambda n: f"INC-{n:04d}")
    kind = IncidentKind.FRESHNESS
    severity = Severity.MEDIUM
    started = factory.LazyFunction(_yesterday)
    datasets = factory.LazyFunction(lambda: ["ethereum.raw.logs"])
    chains = factory.LazyFunction(lambda: ["ethereum"])
    title = factory.Sequence(lambda n: f"Incident {n}")


class HealthModelFactory(factory.django.DjangoModelFactory):
    """The next version after the newest stored one, with the default weights."""

    class Meta:
        model = HealthModel

    version = factory.LazyFunction(
        lambda: (HealthModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    )
    weights = factory.LazyFunction(lambda: dict(DEFAULT_WEIGHTS))
    green_min = 70
    yellow_min = 40
    note = "Test model"


def _signals() -> list[dict]:
    return [
        asdict(
            Signal(
                key="usage_trend",
                label="Usage trend",
                weight=DEFAULT_WEIGHTS["usage_trend"],
                applies=True,
                value="steady",
                raw=1.0,
                score=75.0,
                contribution=25.5,
                effective_weight=DEFAULT_WEIGHTS["usage_trend"],
            )
        )
    ]


class HealthSnapshotFactory(factory.django.DjangoModelFactory):
    """A green snapshot for yesterday under the current model."""

    class Meta:
        model = HealthSnapshot

    account = factory.SubFactory(AccountFactory)
    date = factory.LazyFunction(_yesterday)
    model = factory.LazyFunction(health_model_current)
    score = 75
    weighted_score = factory.SelfAttribute("score")
    band = Band.GREEN
    signals = factory.LazyFunction(_signals)
    overrides = factory.LazyFunction(list)
    facts = factory.LazyFunction(dict)


class RecomputeRequestFactory(factory.django.DjangoModelFactory):
    """A pending request to rescore the whole book."""

    class Meta:
        model = RecomputeRequest

    account_ids = None
    reason = "import"
