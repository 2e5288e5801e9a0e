"""The recompute outbox: an import's rescore is written in its transaction, waits for the load
to settle, then runs once for the union of what was asked; nothing is lost when the broker is
down or the recompute fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cs_portal.imports import run_import
from cs_portal.models import ImportRun
from health import services
from health.models import HealthSnapshot, RecomputeRequest
from tests.conftest import celery_inline, usage_landed
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    accounts = [AccountFactory(external_id=f"a{n}") for n in range(3)]
    usage_landed(services.last_complete_day())
    return accounts


def age(seconds: float) -> None:
    """Make every pending request this many seconds old."""
    RecomputeRequest.objects.update(created_at=timezone.now() - timedelta(seconds=seconds))


def scored() -> set[str]:
    return set(HealthSnapshot.objects.values_list("account__external_id", flat=True))


def test_a_request_waits_for_the_load_to_settle_then_runs_once_for_the_union(book):
    a0, a1, _ = book
    services.recompute_request(account_ids=[a0.pk], reason="import:contacts")
    services.recompute_request(account_ids=[a1.pk, a0.pk], reason="import:contracts")

    assert services.recompute_requests_run(settle_seconds=5) is None  # still arriving
    assert RecomputeRequest.objects.count() == 2
    assert scored() == set()

    age(6)
    assert services.recompute_requests_run(settle_seconds=5) == 2
    assert scored() == {"a0", "a1"}
    assert RecomputeRequest.objects.count() == 0
    assert services.recompute_requests_run(settle_seconds=5) is None  # nothing left to do


def test_one_request_for_the_book_makes_the_whole_load_a_book_recompute(book):
    services.recompute_request(account_ids=[book[0].pk], reason="import:usage")
    services.recompute_request(account_ids=None, reason="import:incidents")
    age(10)
    assert services.recompute_requests_run(settle_seconds=5) == 3
    assert scored() == {"a0", "a1", "a2"}


def test_the_relay_waits_while_another_file_of_the_load_is_still_importing(book):
    services.recompute_request(account_ids=[book[0].pk], reason="import:contracts")
    age(10)
    running = ImportRun.objects.create(kind="usage", origin="cli", status="running")

    assert services.recompute_requests_run(settle_seconds=5) is None
    assert RecomputeRequest.objects.count() == 1

    # An import marked running for longer than any import takes crashed: stop waiting.
    ImportRun.objects.filter(pk=running.pk).update(
        created_at=timezone.now() - services.IMPORT_STALE_AFTER - timedelta(minutes=1)
    )
    assert services.recompute_requests_run(settle_seconds=5) == 1


def test_a_failed_recompute_leaves_its_requests_for_the_next_sweep(book, monkeypatch):
    services.recompute_request(account_ids=[book[0].pk], reason="import:contracts")
    age(10)

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "health_recompute", boom)
    with pytest.raises(RuntimeError):
        services.recompute_requests_run(settle_seconds=5)
    assert RecomputeRequest.objects.count() == 1

    monkeypatch.undo()
    assert services.recompute_requests_run(settle_seconds=5) == 1


def test_an_empty_scope_requests_nothing(book):
    assert services.recompute_request(account_ids=[], reason="import:contracts") is None
    assert RecomputeRequest.objects.count() == 0


def test_inline_tasks_do_not_wait_for_a_settle_window(book, settings):
    """With no worker a countdown would be ignored: each import is scored as it commits."""
    settings.RECOMPUTE_SETTLE_SECONDS = 30
    with celery_inline():
        assert services.load_settle_seconds() == 0
        services.recompute_request(account_ids=[book[0].pk], reason="import:contracts")
        assert services.recompute_requests_run() == 1


def test_a_broker_outage_keeps_the_request_for_the_sweep(book, settings, monkeypatch, request):
    """With a worker, a relay that cannot be queued is not an error: the request is committed
    and the periodic sweep runs it when the broker is back."""
    from cs_portal.celery import app
    from health import tasks

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    request.addfinalizer(lambda: setattr(app.conf, "task_always_eager", eager))
    settings.RECOMPUTE_SETTLE_SECONDS = 4

    def refused(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.relay_recompute_requests, "apply_async", refused)
    services._relay_soon()  # logs, does not raise
    services.recompute_request(account_ids=[book[1].pk], reason="import:contacts")
    age(10)
    assert services.recompute_requests_run() == 1
    assert scored() == {"a1"}


def test_an_import_writes_its_request_in_its_own_transaction(book):
    """A rejected import writes no request; an accepted one does, with the accounts it touched."""
    bad = run_import("contacts", json_rows=[{"account": "nope", "email": "x@y.z", "role": "x"}])
    assert not bad.ok
    assert RecomputeRequest.objects.count() == 0

    good = run_import(
        "contacts",
        json_rows=[{"account": "a2", "email": "cto@a2.example", "role": "exec_sponsor"}],
    )
    assert good.ok
    assert list(RecomputeRequest.objects.values_list("account_ids", "reason")) == [
        ([book[2].pk], "import:contacts")
    ]


def test_an_accounts_file_asks_to_rescore_its_accounts(book):
    """A re-tier changes cadence rules and who hears about a spike: its accounts are rescored."""
    result = run_import(
        "accounts",
        json_rows=[{"external_id": "a0", "name": "A Zero", "segment": "institution", "tier": 1}],
    )
    assert result.ok
    assert list(RecomputeRequest.objects.values_list("account_ids", "reason")) == [
        ([book[0].pk], "import:accounts")
    ]
