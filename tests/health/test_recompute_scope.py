"""A recompute asked for every account by name is scored as the whole book."""

from __future__ import annotations

import pytest

from health import services
from health.models import HealthSnapshot
from tests.factories import AccountFactory
from tests.health.test_recompute_writes import D, book, stored  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_a_list_naming_every_account_is_the_whole_book(monkeypatch):
    monkeypatch.setattr(services, "WHOLE_BOOK_MIN", 2)
    a, b, c = AccountFactory(), AccountFactory(), AccountFactory()
    assert services.whole_book_or([a.pk, b.pk, c.pk]) is None
    assert services.whole_book_or([c.pk, a.pk, b.pk, a.pk]) is None  # order and repeats
    assert services.whole_book_or([a.pk, b.pk]) == [a.pk, b.pk]  # not every account
    assert services.whole_book_or([a.pk, b.pk, 999_999]) == [a.pk, b.pk, 999_999]
    assert services.whole_book_or(None) is None


def test_short_lists_are_kept_as_they_are(monkeypatch):
    a = AccountFactory()
    assert services.whole_book_or([a.pk]) == [a.pk]  # under WHOLE_BOOK_MIN: not even counted


def test_the_recompute_scores_and_announces_it_as_the_book(book, monkeypatch):  # noqa: F811
    from health import events

    monkeypatch.setattr(services, "WHOLE_BOOK_MIN", 1)
    heard = []
    announce = events.announce_recompute

    def listen(**kw):
        heard.append(kw["account_ids"])
        return announce(**kw)

    monkeypatch.setattr(events, "announce_recompute", listen)
    assert services.health_recompute(as_of=D, account_ids=[a.pk for a in book]) == 3
    by_list = stored()
    assert services.health_recompute(as_of=D, account_ids=[book[1].pk]) == 1
    assert heard == [None, [book[1].pk]]  # every account named: the book; one: that one
    HealthSnapshot.objects.filter(date=D).delete()
    assert services.health_recompute(as_of=D) == 3
    assert stored() == by_list
