"""Factories for the voc app: themes, feedback items, behavioural failure days, theme events
and loop tells."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory

from tests.factories.accounts import AccountFactory
from voc.models import FailureDay, FeedbackItem, LoopTell, Theme, ThemeEvent


class ThemeFactory(factory.django.DjangoModelFactory):
    """A new coverage-gap theme about a chain."""

    class Meta:
        model = Theme

    key = factory.Sequence(lambda n: f"coverage-gap-chain-{n}")
    title = factory.Sequence(lambda n: f"Coverage gap: chain {n}")
    type = "coverage_gap"
    chain = factory.Sequence(lambda n: f"chain{n}")
    dataset = ""
    grouping = factory.LazyAttribute(lambda t: f"{t.type}|{t.chain}|{t.dataset}")


class FeedbackItemFactory(factory.django.DjangoModelFactory):
    """A medium item heard on a ticket last week, with the theme's tags."""

    class Meta:
        model = FeedbackItem

    account = factory.SubFactory(AccountFactory)
    theme = factory.SubFactory(ThemeFactory)
    date = factory.LazyFunction(lambda: date.today() - timedelta(days=7))
    type = factory.LazyAttribute(lambda i: i.theme.type)
    severity = "medium"
    title = factory.Sequence(lambda n: f"They asked for it ({n})")
    chain = factory.LazyAttribute(lambda i: i.theme.chain)
    dataset = factory.LazyAttribute(lambda i: i.theme.dataset)
    source = "ticket"
    arr_at_log = Decimal("50000.00")
    tier_at_log = 2
    band_at_log = "green"


class FailureDayFactory(factory.django.DjangoModelFactory):
    """Five failed queries yesterday on a behavioural item."""

    class Meta:
        model = FailureDay

    item = factory.SubFactory(FeedbackItemFactory, source="behavioral", reason="chain_not_covered")
    date = factory.LazyFunction(lambda: date.today() - timedelta(days=1))
    failures = 5


class ThemeEventFactory(factory.django.DjangoModelFactory):
    """A theme triaged."""

    class Meta:
        model = ThemeEvent

    theme = factory.SubFactory(ThemeFactory)
    kind = "status"
    from_status = "new"
    to_status = "triaged"


class LoopTellFactory(factory.django.DjangoModelFactory):
    """A tell with neither its task nor its nudge (both deleted)."""

    class Meta:
        model = LoopTell

    theme = factory.SubFactory(ThemeFactory, status="shipped")
    account = factory.SubFactory(AccountFactory)
