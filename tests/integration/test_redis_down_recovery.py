"""Redis goes down between a worker's start and a usage import: the import still answers its
real result and is recorded, its rescore waits in PostgreSQL, and once Redis is back the beat's
sweep hands it to the worker. Real PostgreSQL, a redis-server of the test's own (broker and
cache), a real worker running the beat.
"""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import api_token_create
from cs_portal.models import ImportRun
from health.models import HealthSnapshot, RecomputeRequest
from health.services import health_recompute
from tests.factories import AccountFactory, UserFactory
from tests.integration.helpers import post_csv, steady_usage, units_csv, wait_for, yesterday_utc
from tests.integration.redis_server import RedisServer
from tests.redis_outage import celery_on, redis_caches

# The beat's sweep runs every 10 s here (production: every 60 s).
SWEEP_SECONDS = 10
pytestmark = [
    pytest.mark.integration,
    pytest.mark.worker_beat,
    pytest.mark.worker_env(OUTBOX_SWEEP_SECONDS=str(SWEEP_SECONDS)),
]


@pytest.fixture
def own_redis(tmp_path, monkeypatch, settings):
    """A redis-server of our own as broker and cache, for this process and the worker."""
    server = RedisServer(tmp_path)
    server.start()
    monkeypatch.setenv("REDIS_URL", server.url)
    settings.CACHES = redis_caches(server.url)
    try:
        with celery_on(server.url):
            yield server
    finally:
        server.stop()


def test_usage_imported_while_redis_is_down_is_rescored_once_it_is_back(
    live_server, own_redis, request
):
    worker = request.getfixturevalue("celery_worker_process")
    day = yesterday_utc()
    token = api_token_create(user=UserFactory(role=Role.MANAGER))
    account = AccountFactory(external_id="tier1", tier=1, seats=10)
    steady_usage(account, until=day)
    assert health_recompute(as_of=day, account_ids=[account.pk]) == 1
    before = HealthSnapshot.objects.get(account=account, date=day)
    assert before.band == "green"

    own_redis.stop()
    # Usage falls to zero for the last 7 days.
    csv = units_csv("tier1", until=day, units=0)
    status, body = post_csv(f"{live_server.url}/api/v1/import/usage", token, csv)
    assert status == 200, body
    assert {k: body[k] for k in ("ok", "rows", "updated")} == {"ok": True, "rows": 7, "updated": 7}
    run = ImportRun.objects.get(kind="usage")
    assert (run.status, run.rows, run.origin) == ("accepted", 7, "api")
    assert list(RecomputeRequest.objects.values_list("account_ids", flat=True)) == [[account.pk]]
    assert HealthSnapshot.objects.get(account=account, date=day).band == "green"

    own_redis.start()

    def rescored():
        snap = HealthSnapshot.objects.get(account=account, date=day)
        return snap if snap.band == "red" else None

    after = wait_for(rescored, seconds=SWEEP_SECONDS + 60)
    assert after is not None, f"not rescored after Redis came back:\n{worker.log()}"
    assert after.score < before.score
    assert not RecomputeRequest.objects.exists()
