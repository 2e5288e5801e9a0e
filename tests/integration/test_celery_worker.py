"""End to end on the real stack: usage POSTed to the API is rescored by a real Celery worker.

PostgreSQL (the CSV goes through COPY), Redis as the broker, and a worker subprocess: the path a
production import takes, with no eager shortcut.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from accounts.models import Role
from accounts.services import api_token_create
from cockpit import selectors as cockpit_selectors
from cockpit.tasks import WARM_PENDING_KEY
from cs_portal import clock
from health.models import HealthSnapshot
from health.services import health_recompute
from tests.factories import AccountFactory, UserFactory
from tests.integration.helpers import (
    POLL_SECONDS,
    post_csv,
    steady_usage,
    units_csv,
    wait_for,
    yesterday_utc,
)

pytestmark = pytest.mark.integration

# An import queues one relay of the recompute outbox; it scores the accounts once settled.
SUCCEEDED = r"Task health\.tasks\.relay_recompute_requests\[[0-9a-f-]+\] succeeded"
RECEIVED = r"Task health\.tasks\.relay_recompute_requests\[[0-9a-f-]+\] received"


def test_usage_collapse_posted_to_the_api_turns_the_account_red(
    live_server, celery_worker_process, monkeypatch
):
    worker = celery_worker_process
    cache.delete(WARM_PENDING_KEY)  # an earlier test's warm-up, queued but never run, is gone
    day = yesterday_utc()
    token = api_token_create(user=UserFactory(role=Role.MANAGER))
    account = AccountFactory(external_id="steady", tier=3, seats=10)
    # 60 days of steady usage, written directly so that no import (and no task) is involved.
    steady_usage(account, until=day)
    assert health_recompute(as_of=day, account_ids=[account.pk]) == 1
    before = HealthSnapshot.objects.get(account=account, date=day)
    assert (before.band, before.overrides) == ("green", [])
    assert worker.count(RECEIVED) == 0

    # The last 7 days collapse to 10%: one CSV, 7 rows, through COPY on PostgreSQL.
    csv = units_csv("steady", until=day, units=100)
    status, body = post_csv(f"{live_server.url}/api/v1/import/usage", token, csv)
    assert status == 200, body
    assert {k: body[k] for k in ("ok", "rows", "created", "updated", "unchanged")} == {
        "ok": True,
        "rows": 7,
        "created": 0,
        "updated": 7,
        "unchanged": 0,
    }

    def rescored():
        snap = HealthSnapshot.objects.get(account=account, date=day)
        return snap if snap.band == "red" else None

    after = wait_for(rescored)
    assert after is not None, f"not rescored within {POLL_SECONDS} s:\n{worker.log()}"
    assert after.score < before.score
    assert after.score <= 39
    assert [o["key"] for o in after.overrides] == ["sharp_drop"]
    assert after.overrides[0]["detail"].endswith("100 units/day vs 1,000")

    # One task for the import, not one per row (and not one per account-day).
    assert wait_for(lambda: worker.count(SUCCEEDED) >= 1), worker.log()
    time.sleep(1)  # time for a stray second task to show up, if there were one
    assert worker.count(RECEIVED) == 1, worker.log()
    assert worker.count(SUCCEEDED) == 1, worker.log()

    # The worker then refills the cockpit's cached health series (in Redis), so the manager
    # who opens the cockpit next reads it instead of computing it.
    def warmed():
        try:
            panel = cockpit_selectors.health_panel(
                account_ids=None, on=clock.today(), tier=None, csm_id=None
            )
        except AssertionError:
            return None
        return panel if panel.today_counts["red"] == 1 else None

    def not_computed_here(**kwargs):
        raise AssertionError("computed in the request, not by the worker")

    monkeypatch.setattr(cockpit_selectors, "band_series", not_computed_here)
    assert wait_for(warmed) is not None, worker.log()
    assert worker.count(r"Task cockpit\.tasks\.warm_cockpit\[[0-9a-f-]+\] succeeded") >= 1

    # A rejected import writes nothing and enqueues nothing.
    status, body = post_csv(
        f"{live_server.url}/api/v1/import/usage",
        token,
        f"account,date,metric,value\nsteady,{day},units,-5\n",
    )
    assert status == 400
    assert body["errors"] == [
        {"row": 2, "column": "value", "message": "-5 is negative; usage cannot be below zero"}
    ]
    time.sleep(1)
    assert worker.count(RECEIVED) == 1, worker.log()
    assert HealthSnapshot.objects.get(account=account, date=day).score == after.score
