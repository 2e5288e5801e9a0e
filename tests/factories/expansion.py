"""Factories for the expansion app: opportunities, their stage changes, trigger settings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.db.models import Max
from django.utils import timezone

from expansion.models import Opportunity, OpportunityKind, Stage, StageChange, TriggerSettings
from expansion.rules import DEFAULTS
from tests.factories.accounts import AccountFactory


class OpportunityFactory(factory.django.DjangoModelFactory):
    """An identified seats opportunity with its evidence from yesterday."""

    class Meta:
        model = Opportunity

    account = factory.SubFactory(AccountFactory)
    kind = OpportunityKind.SEATS
    target = "seats"
    stage = Stage.IDENTIFIED
    thesis = "Peak of 12 active users in the last 28 days on 10 seats (120 %)."
    evidence = factory.LazyFunction(lambda: {"trigger": "seats", "peak_users_28": 12, "seats": 10})
    arr_potential = Decimal("20000.00")
    owner = factory.LazyAttribute(lambda o: o.account.csm)
    ae = factory.LazyAttribute(lambda o: o.account.ae)
    evidence_as_of = factory.LazyFunction(lambda: date.today() - timedelta(days=1))
    stage_changed_at = factory.LazyFunction(timezone.now)


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageChange

    opportunity = factory.SubFactory(OpportunityFactory)
    from_stage = ""
    to_stage = Stage.IDENTIFIED
    changed_at = factory.LazyFunction(timezone.now)


def _next_version() -> int:
    return (TriggerSettings.objects.aggregate(v=Max("version"))["v"] or 0) + 1


class TriggerSettingsFactory(factory.django.DjangoModelFactory):
    """The next version of the trigger settings, with the defaults."""

    class Meta:
        model = TriggerSettings

    version = factory.LazyFunction(_next_version)
    values = factory.LazyFunction(lambda: dict(DEFAULTS))
    note = "test"
