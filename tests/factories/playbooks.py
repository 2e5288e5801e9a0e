"""Factories for the playbooks app: alerts and their deliveries, playbooks with their steps,
plays, tasks, success plans, onboarding milestones, tier suggestions and nudges."""

from __future__ import annotations

from datetime import date, timedelta

import factory
from django.db.models import Max

from playbooks.models import (
    Alert,
    AlertDelivery,
    AlertKind,
    Channel,
    Milestone,
    MilestoneKey,
    Nudge,
    Play,
    Playbook,
    PlaybookStep,
    RoutingPreference,
    RoutingRules,
    SuccessPlan,
    Task,
    TierSuggestion,
)
from playbooks.routing.rules import default_rules
from tests.factories.accounts import AccountFactory, UserFactory


class AlertFactory(factory.django.DjangoModelFactory):
    """An open band change for yesterday, owned by the account's CSM."""

    class Meta:
        model = Alert

    account = factory.SubFactory(AccountFactory)
    kind = AlertKind.BAND_CHANGE
    key = factory.Sequence(lambda n: f"band:{n}")
    as_of = factory.LazyFunction(lambda: date.today() - timedelta(days=1))
    title = factory.LazyAttribute(lambda a: f"{a.account.name} moved green → red")
    detail = "Health went from 75 (green) to 32 (red)."
    data = factory.LazyFunction(
        lambda: {"score": 32, "band": "red", "from_band": "green", "from_score": 75}
    )
    owner = factory.LazyAttribute(lambda a: a.account.csm)


class AlertDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertDelivery

    alert = factory.SubFactory(AlertFactory)
    channel = Channel.SLACK


class PlaybookFactory(factory.django.DjangoModelFactory):
    """An active playbook triggered by band changes, for every tier, without steps."""

    class Meta:
        model = Playbook

    key = factory.Sequence(lambda n: f"playbook-{n}")
    name = factory.Sequence(lambda n: f"Playbook {n}")
    trigger = AlertKind.BAND_CHANGE


class PlaybookStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlaybookStep

    playbook = factory.SubFactory(PlaybookFactory)
    order = factory.Sequence(lambda n: n)
    title = factory.Sequence(lambda n: f"Step {n}")
    due_days = 3


class PlayFactory(factory.django.DjangoModelFactory):
    """An open play started today, owned by the account's CSM."""

    class Meta:
        model = Play

    account = factory.SubFactory(AccountFactory)
    playbook = factory.SubFactory(PlaybookFactory)
    owner = factory.LazyAttribute(lambda p: p.account.csm)
    started_on = factory.LazyFunction(date.today)


class TaskFactory(factory.django.DjangoModelFactory):
    """An open task on its own (no play), due in three days."""

    class Meta:
        model = Task

    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    due = factory.LazyFunction(lambda: date.today() + timedelta(days=3))
    owner = factory.LazyAttribute(lambda t: t.account.csm)


class SuccessPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuccessPlan

    account = factory.SubFactory(AccountFactory)
    outcomes = "Replace the in-house indexer\nShip the risk dashboard"


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    account = factory.SubFactory(AccountFactory)
    key = MilestoneKey.FIRST_QUERY
    due = factory.LazyFunction(lambda: date.today() + timedelta(days=14))


class TierSuggestionFactory(factory.django.DjangoModelFactory):
    """A pending promotion from tier 3 to tier 2 after a usage spike."""

    class Meta:
        model = TierSuggestion

    account = factory.SubFactory(AccountFactory, tier=3)
    from_tier = factory.SelfAttribute("account.tier")
    to_tier = 2
    reason = "Usage spiked 7.3× over the prior 28 days"
    evidence = factory.LazyFunction(lambda: {"spike_ratio": 7.31})


class NudgeFactory(factory.django.DjangoModelFactory):
    """A pending 70%-of-commit nudge for a digital-tier account."""

    class Meta:
        model = Nudge

    account = factory.SubFactory(AccountFactory, tier=3)
    kind = Nudge.Kind.THROUGHPUT_70
    key = factory.Sequence(lambda n: f"throughput:{n}")
    message = "You have used 70% of your committed throughput."
    payload = factory.LazyFunction(lambda: {"pct": 70})


def _next_routing_version() -> int:
    return (RoutingRules.objects.aggregate(v=Max("version"))["v"] or 0) + 1


class RoutingRulesFactory(factory.django.DjangoModelFactory):
    """The next version of the alert routing, with the defaults."""

    class Meta:
        model = RoutingRules

    version = factory.LazyFunction(_next_routing_version)
    rules = factory.LazyFunction(default_rules)
    note = "test"


class RoutingPreferenceFactory(factory.django.DjangoModelFactory):
    """A CSM who mutes the daily digest."""

    class Meta:
        model = RoutingPreference

    user = factory.SubFactory(UserFactory)
    muted_kinds = factory.LazyFunction(list)
    muted_channels = factory.LazyFunction(lambda: ["email"])
