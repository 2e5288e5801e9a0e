"""Fixtures for the success, tiering and nudge tests (imported by those modules).

`webhook_server` is a real HTTP server on 127.0.0.1 standing in for the product's nudge
receiver: it records each request's raw body and headers (so a test can check the HMAC
signature exactly as a receiver would) and answers per a plan: a status code, or a sleep past
the client's timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from health.models import HealthSnapshot, UsageFact
from health.services import health_model_current
from tests.conftest import celery_inline, usage_landed
from tests.recording_server import RecordingServer, serving


@pytest.fixture
def eager_tasks():
    """Tasks inline, and their errors kept inside the task so retries run one after the other
    (with propagation on, Celery would raise its Retry signal to the caller instead)."""
    with celery_inline(propagate=False):
        yield


@dataclass
class Receiver(RecordingServer):
    path: str = "/hooks/nudges"
    content_type: str = "application/json"
    ok_body: bytes = b'{"ok":true}'
    error_body: bytes = b'{"error":"boom"}'


@pytest.fixture
def webhook_server():
    with serving(Receiver()) as receiver:
        yield receiver


SECRET = "whsec_test_0123456789"


@pytest.fixture
def webhook(webhook_server, settings, eager_tasks):
    """The nudge webhook pointed at the local receiver, signed, with a short timeout."""
    settings.NUDGE_WEBHOOK_URL = webhook_server.url
    settings.NUDGE_WEBHOOK_SECRET = SECRET
    settings.ALERT_HTTP_TIMEOUT = 0.5
    return webhook_server


def snapshot(
    account, day: date, *, score: int = 70, band: str = "green", facts: dict | None = None
) -> HealthSnapshot:
    """A stored snapshot with the facts the tiering and nudge rules read."""
    return HealthSnapshot.objects.update_or_create(
        account=account,
        date=day,
        defaults={
            "model": health_model_current(),
            "score": score,
            "weighted_score": score,
            "band": band,
            "signals": [],
            "overrides": [],
            "facts": facts or {},
        },
    )[0]


def usage(account, day: date, metric: str, value: float, **dims) -> UsageFact:
    usage_landed(day)
    return UsageFact.objects.create(account=account, date=day, metric=metric, value=value, **dims)
