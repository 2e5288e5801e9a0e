"""Factories for the accounts app: users, accounts, contracts, contacts, touchpoints, tier
changes and API tokens."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory

from accounts.models import (
    Account,
    ApiToken,
    Contact,
    ContactRole,
    Contract,
    Plan,
    Role,
    Segment,
    TierChange,
    Touchpoint,
    TouchpointKind,
    User,
)


class UserFactory(factory.django.DjangoModelFactory):
    """Tests log in with client.force_login, so no password is hashed (hashing is slow)."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@cs.example")
    name = factory.Sequence(lambda n: f"User {n}")
    role = Role.CSM
    password = "!unusable"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"acct-{n:04d}")
    name = factory.Sequence(lambda n: f"Account {n:04d}")
    segment = Segment.INSTITUTION
    tier = 2
    csm = None
    seats = None


class ContractFactory(factory.django.DjangoModelFactory):
    """A contract active today by default: started 100 days ago, ends in 265 days."""

    class Meta:
        model = Contract

    account = factory.SubFactory(AccountFactory)
    start = factory.LazyFunction(lambda: date.today() - timedelta(days=100))
    end = factory.LazyAttribute(lambda c: c.start + timedelta(days=364))
    arr = Decimal("100000.00")
    plan = Plan.DEVELOPER
    commit_units = None


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    email = factory.Sequence(lambda n: f"person{n}@customer.example")
    name = factory.Sequence(lambda n: f"Person {n}")
    role = ContactRole.CHAMPION
    last_engaged = factory.LazyFunction(lambda: date.today() - timedelta(days=5))
    left = None


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    account = factory.SubFactory(AccountFactory)
    date = factory.LazyFunction(lambda: date.today() - timedelta(days=3))
    kind = TouchpointKind.MEETING
    note = factory.Sequence(lambda n: f"Note {n}")


class TierChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TierChange

    account = factory.SubFactory(AccountFactory)
    from_tier = 3
    to_tier = 2
    reason = "Usage tripled"


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """Pass `raw=` to choose the token; the hash is what is stored."""

    class Meta:
        model = ApiToken
        exclude = ("raw",)

    user = factory.SubFactory(UserFactory)
    raw = factory.Sequence(lambda n: f"csp_test_token_{n:06d}")
    prefix = factory.LazyAttribute(lambda t: t.raw[:12])
    token_hash = factory.LazyAttribute(lambda t: ApiToken.hash(t.raw))
