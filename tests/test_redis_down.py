"""Redis down (cache and broker unreachable): committed work is answered truthfully, recorded,
and left in the database for the relays, never turned into a 500."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Account
from cs_portal.jobs import spool_path
from cs_portal.models import ImportRun
from cs_portal.tasks import sweep_import_spool
from health.aggregates import data_since
from health.models import HealthModel, RecomputeRequest, UsageFact
from health.services import health_model_current
from playbooks.models import AlertDelivery, DeliveryStatus, Nudge
from playbooks.tasks import relay_pending_deliveries
from tests.conftest import usage_landed
from tests.factories import AccountFactory, AlertDeliveryFactory, NudgeFactory
from tests.redis_outage import celery_on, free_port, redis_caches
from tests.test_api import post_csv

ACCOUNTS = b"external_id,name,segment,tier\n" + b"".join(
    f"big-{i:04d},Big {i},self_serve,3\n".encode() for i in range(300)
)


@pytest.fixture
def redis_down(settings):
    """Cache, broker and result backend on a port nothing listens on."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = redis_caches(url)
    settings.RECOMPUTE_SETTLE_SECONDS = 0
    with celery_on(url, publish_retry=False):
        yield url


def test_a_usage_import_through_the_api_answers_its_real_result_and_leaves_the_rescore_pending(
    client, maya_token, today, redis_down, django_capture_on_commit_callbacks
):
    AccountFactory(external_id="acme")
    day = today - timedelta(days=1)
    usage_landed(day)
    body = f"account,date,metric,value\nacme,{day},units,0\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = post_csv(client, "usage", body, maya_token)
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    assert response.json()["rows"] == 1
    run = ImportRun.objects.get()
    assert (run.kind, run.status, run.rows) == ("usage", "accepted", 1)
    assert UsageFact.objects.filter(account__external_id="acme").count() == 1
    # The rescore waits in the outbox for the beat's sweep once the broker is back.
    assert list(RecomputeRequest.objects.values_list("account_ids", flat=True)) == [
        [Account.objects.get(external_id="acme").pk]
    ]


def test_saving_a_health_model_redirects_and_the_book_rescore_stays_pending(
    maya_client, redis_down, django_capture_on_commit_callbacks
):
    current = health_model_current()
    data = {f"w_{k}": v for k, v in current.weights.items()}
    data.update(
        green_min=current.green_min, yellow_min=current.yellow_min, note="v2", action="save"
    )
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = maya_client.post("/health/model/", data)
    # Promptly: not after the result store's reconnect attempts (20 s and more), which a
    # proxy or the WSGI server's timeout turns into an error page.
    assert time.monotonic() - started < 5
    assert response.status_code == 302, response.content
    assert HealthModel.objects.order_by("-version").first().version == current.version + 1
    assert list(RecomputeRequest.objects.values_list("account_ids", flat=True)) == [None]


def test_cached_aggregates_fall_back_to_the_database(db, redis_down, today):
    account = AccountFactory()
    UsageFact.objects.create(account=account, date=today, metric="units", value=1)
    assert data_since() == today


def test_a_big_upload_that_cannot_start_says_so_and_can_be_retried(
    maya_client, settings, tmp_path, redis_down, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_BYTES = 1000
    settings.IMPORT_SPOOL_DIR = str(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        response = maya_client.post(
            "/imports/", {"kind": "accounts", "file": SimpleUploadedFile("big.csv", ACCOUNTS)}
        )
    assert response.status_code == 302
    run = ImportRun.objects.get(filename="big.csv")
    assert run.status == ImportRun.Status.FAILED
    page = maya_client.get(response["Location"])
    assert "could not be started" in page.text
    assert "every 1s" not in page.text  # nothing to poll
    retry_form = page.text.split(f'action="/imports/jobs/{run.pk}/retry/"', 1)[1]
    assert 'name="csrfmiddlewaretoken"' in retry_form.split("</form>", 1)[0]
    assert len(list(tmp_path.iterdir())) == 1  # the file waits for the retry

    # Redis is back: the retry runs it (inline here) and the spooled file is gone.
    from tests.conftest import celery_inline

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with celery_inline(), django_capture_on_commit_callbacks(execute=True):
        retried = maya_client.post(f"/imports/jobs/{run.pk}/retry/")
    assert retried.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.rows, run.created) == ("accepted", 300, 300)
    assert list(tmp_path.iterdir()) == []


def test_slack_deliveries_and_nudges_an_outage_left_pending_are_relayed_by_the_sweep(
    db, settings, slack_server, eager_celery
):
    settings.SLACK_WEBHOOK_URL = slack_server.url
    settings.ALERT_DELIVERY_GRACE_SECONDS = 0
    settings.NUDGE_WEBHOOK_URL = ""
    long_ago = timezone.now() - timedelta(minutes=10)
    stuck = AlertDeliveryFactory(status=DeliveryStatus.PENDING)
    fresh = AlertDeliveryFactory(status=DeliveryStatus.PENDING)  # its own task may be on the way
    AlertDelivery.objects.filter(pk=stuck.pk).update(updated_at=long_ago)
    nudge = NudgeFactory(status=DeliveryStatus.PENDING)
    Nudge.objects.filter(pk=nudge.pk).update(created_at=long_ago)

    relay_pending_deliveries.delay()

    stuck.refresh_from_db()
    fresh.refresh_from_db()
    nudge.refresh_from_db()
    assert (stuck.status, stuck.attempts) == (DeliveryStatus.SENT, 1)
    assert len(slack_server.requests) == 1
    assert (fresh.status, fresh.attempts) == (DeliveryStatus.PENDING, 0)
    # Tried: with no webhook configured a nudge is skipped, no longer pending.
    assert nudge.status == DeliveryStatus.SKIPPED


def test_an_after_commit_hook_that_fails_does_not_fail_the_committed_import(
    client, maya_token, monkeypatch, django_capture_on_commit_callbacks
):
    from health.imports import UsageImport

    def broken(self, rows, result):
        raise OSError("the cache host is unreachable")

    monkeypatch.setattr(UsageImport, "after_commit", broken)
    AccountFactory(external_id="acme")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_csv(
            client, "usage", "account,date,metric,value\nacme,2026-01-05,units,3\n", maya_token
        )
    assert response.status_code == 200, response.content
    assert ImportRun.objects.get().status == "accepted"
    assert UsageFact.objects.count() == 1


def test_only_importers_may_retry_a_background_import(alice_client, maya, settings, tmp_path):
    settings.IMPORT_SPOOL_DIR = str(tmp_path)
    run = ImportRun.objects.create(
        kind="accounts", origin="web", user=maya, filename="big.csv", status="failed"
    )
    spool_path(run.pk).write_bytes(ACCOUNTS)
    response = alice_client.post(f"/imports/jobs/{run.pk}/retry/")
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == "failed"
    assert spool_path(run.pk).exists()


def test_the_spool_sweep_deletes_abandoned_uploads_only(db, settings, tmp_path, eager_celery):
    settings.IMPORT_SPOOL_DIR = str(tmp_path)
    abandoned, running, recent = (
        ImportRun.objects.create(kind="accounts", origin="web", status=status)
        for status in ("failed", "running", "failed")
    )
    day_old = (timezone.now() - timedelta(days=2)).timestamp()
    for run in (abandoned, running, recent):
        spool_path(run.pk).write_bytes(b"x")
    for run in (abandoned, running):
        os.utime(spool_path(run.pk), (day_old, day_old))

    assert sweep_import_spool.delay().get() == 1

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        spool_path(run.pk).name for run in (running, recent)
    )
