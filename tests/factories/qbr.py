"""Factories for QBR prep."""

from __future__ import annotations

from datetime import date, timedelta

import factory

from qbr.models import NextStep, Qbr
from qbr.rules import last_full_quarter
from tests.factories.accounts import AccountFactory


class QbrFactory(factory.django.DjangoModelFactory):
    """A draft QBR over the last full quarter."""

    class Meta:
        model = Qbr

    account = factory.SubFactory(AccountFactory)
    period_start = factory.LazyFunction(lambda: last_full_quarter(date.today())[0])
    period_end = factory.LazyFunction(lambda: last_full_quarter(date.today())[1])


class NextStepFactory(factory.django.DjangoModelFactory):
    """A step owned at the customer, due in two weeks."""

    class Meta:
        model = NextStep

    qbr = factory.SubFactory(QbrFactory)
    text = "Two-week eval of Solana DEX trades"
    customer_owner = "Their data lead"
    due = factory.LazyFunction(lambda: date.today() + timedelta(days=14))
