"""Factories for the datatrust app: the dataset catalogue, freshness observations and
schema-change heads-ups."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from datatrust.models import Dataset, FreshnessObservation, HeadsUp
from health.models import IncidentKind
from tests.factories.accounts import AccountFactory
from tests.factories.health import IncidentFactory


class DatasetFactory(factory.django.DjangoModelFactory):
    """An Ethereum table with a 15-minute freshness SLA."""

    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"ethereum.raw.table_{n}")
    chains = factory.LazyFunction(lambda: ["ethereum"])
    freshness_sla_minutes = 15


class FreshnessObservationFactory(factory.django.DjangoModelFactory):
    """A lag within the SLA, observed a few minutes ago (each a minute apart)."""

    class Meta:
        model = FreshnessObservation

    dataset = factory.SubFactory(DatasetFactory)
    observed_at = factory.Sequence(
        lambda n: timezone.now().replace(microsecond=0) - timedelta(minutes=n + 1)
    )
    lag_minutes = 9.0


class HeadsUpFactory(factory.django.DjangoModelFactory):
    """A heads-up about a schema change, with neither its task nor its nudge."""

    class Meta:
        model = HeadsUp

    incident = factory.SubFactory(IncidentFactory, kind=IncidentKind.SCHEMA_CHANGE)
    account = factory.SubFactory(AccountFactory)
    datasets = factory.LazyAttribute(lambda h: list(h.incident.datasets))
