"""A worker killed (SIGKILL) in the middle of a rescore: its task goes back to the queue after
the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT, 5 s here) and another worker redoes
it, once. Real PostgreSQL, Redis and two worker processes one after the other.
"""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection

from health.models import HealthSnapshot, UsageFact
from health.services import health_recompute, recompute_request
from tests.factories import AccountFactory
from tests.integration.conftest import (
    WORKER_ENV,
    worker_database_url,
    worker_start,
    worker_stop,
)
from tests.integration.helpers import steady_usage, wait_for, yesterday_utc

pytestmark = pytest.mark.integration

RECOMPUTED = r"recomputed health for \d+ accounts"
ENV = {**WORKER_ENV, "CELERY_VISIBILITY_TIMEOUT": "5"}


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def broker(transactional_db):
    from cs_portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    yield app
    app.conf.task_always_eager = eager


def test_a_rescore_interrupted_by_kill_9_is_redone_once_by_the_next_worker(broker, tmp_path):
    day = yesterday_utc()
    account = AccountFactory(external_id="steady", tier=1, seats=10)
    steady_usage(account, until=day)
    assert health_recompute(as_of=day, account_ids=[account.pk]) == 1
    assert HealthSnapshot.objects.get(account=account, date=day).band == "green"
    # Usage collapses (written directly: no import, no task).
    UsageFact.objects.filter(
        account=account, metric="units", date__gt=day - timedelta(days=7)
    ).update(value=0)

    first = worker_start(tmp_path / "first.log", name="doomed", env=ENV)
    second = None
    try:
        # Another session holds the account's snapshot row: the rescore blocks on it while
        # writing, mid-task, until the worker is killed.
        with psycopg.connect(worker_database_url()) as locker:
            locker.execute(
                "SELECT id FROM health_healthsnapshot WHERE account_id = %s AND date = %s"
                " FOR UPDATE",
                [account.pk, day],
            )
            recompute_request(account_ids=[account.pk], reason="test")
            assert wait_for(waiting_on_a_lock, seconds=30), first.log()
            first.process.kill()
            first.process.wait(timeout=10)
            locker.rollback()
        assert first.count(RECOMPUTED) == 0
        assert HealthSnapshot.objects.get(account=account, date=day).band == "green"

        started = time.monotonic()
        second = worker_start(tmp_path / "second.log", name="heir", env=ENV)
        redone = wait_for(
            lambda: HealthSnapshot.objects.get(account=account, date=day).band == "red",
            seconds=90,
        )
        assert redone, f"not redone within 90 s:\n{second.log()}"
        assert time.monotonic() - started < 60
        time.sleep(2)  # room for a second copy of the task to show up, if there were one
        assert second.count(RECOMPUTED) == 1, second.log()
    finally:
        worker_stop(first)
        if second is not None:
            worker_stop(second)
