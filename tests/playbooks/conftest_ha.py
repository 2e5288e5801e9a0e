"""Fixtures for the alert, delivery and inbox tests (imported by those modules).

`slack_server` is a real HTTP server on 127.0.0.1 standing in for a Slack incoming webhook: it
records every request and answers per a plan (a status code, or a sleep past the client's
timeout), so retries and failures run through the real socket path of slack_sdk.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.mail.backends.locmem import EmailBackend

from health.models import HealthSnapshot
from health.services import health_model_current
from playbooks.models import Alert, AlertKind
from tests.conftest import celery_inline
from tests.recording_server import RecordingServer, serving


@pytest.fixture
def eager_celery():
    """Run tasks inline even when REDIS_URL made the session's Celery app non-eager.

    Errors do not propagate out of eager tasks here, so a task's retries run inline one after
    the other (with propagation on, Celery raises its Retry signal to the caller instead)."""
    with celery_inline(propagate=False):
        yield


@dataclass
class FakeSlack(RecordingServer):
    """What the fake Slack received, and how it answers the next requests."""

    path: str = "/services/T000/B000/XXXX"
    ok_body: bytes = b"ok"
    error_body: bytes = b"internal_error"

    @property
    def bodies(self) -> list[dict]:
        return [r["json"] for r in self.requests]


@pytest.fixture
def slack_server():
    with serving(FakeSlack()) as fake:
        yield fake


@pytest.fixture
def slack(slack_server, settings, eager_celery):
    """Slack configured to the fake server, with a short timeout so timeouts are quick."""
    settings.SLACK_WEBHOOK_URL = slack_server.url
    settings.ALERT_HTTP_TIMEOUT = 0.5
    settings.SITE_URL = "https://portal.example"
    return slack_server


class FailingForBobBackend(EmailBackend):
    """Like locmem, but the SMTP server refuses Bob's address."""

    def send_messages(self, messages):
        for message in messages:
            if any(to.startswith("bob@") for to in message.to):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"mailbox full")})
        return super().send_messages(messages)


def snapshot(account, day, score: int, band: str, *, overrides=None, facts=None):
    """A stored health snapshot, as a recompute would leave it (only what alerts read)."""
    return HealthSnapshot.objects.update_or_create(
        account=account,
        date=day,
        defaults={
            "model": health_model_current(),
            "score": score,
            "weighted_score": score,
            "band": band,
            "signals": [],
            "overrides": overrides or [],
            "facts": facts or {},
        },
    )[0]


def make_alert(
    account,
    *,
    kind=AlertKind.BAND_CHANGE,
    key="k",
    owner="csm",
    as_of=None,
    created_ago: timedelta | None = None,
    **data,
):
    """An alert row as alerts_raise stores it (owner defaults to the account's CSM)."""
    from datetime import date

    from django.utils import timezone

    as_of = as_of or date.today() - timedelta(days=1)
    alert = Alert.objects.create(
        account=account,
        kind=kind,
        key=key,
        as_of=as_of,
        title=data.pop("title", f"{account.name} moved green → red"),
        detail=data.pop("detail", "Health went from 75 (green) to 32 (red)."),
        data=data or {"score": 32, "band": "red", "from_band": "green", "from_score": 75},
        owner=account.csm if owner == "csm" else owner,
    )
    if created_ago is not None:
        Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - created_ago)
        alert.refresh_from_db()
    return alert
