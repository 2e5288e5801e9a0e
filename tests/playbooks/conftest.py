"""Fixtures of the playbooks tests: the default playbook library and accounts the plays tests
share, Celery run inline, and real HTTP servers on 127.0.0.1 standing in for Slack and the
product's nudge receiver (they record each request and answer per a plan: a status code, or a
sleep past the client's timeout), so retries and failures run through the real socket path.

The helpers that build rows live in alert_helpers, play_helpers and success_helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from playbooks.models import Playbook
from playbooks.plays.library import playbooks_load_defaults
from tests.conftest import celery_inline
from tests.factories import AccountFactory
from tests.playbooks.success_helpers import SECRET
from tests.recording_server import RecordingServer, serving


@pytest.fixture
def eager_celery(eager_celery_quiet):
    """Here tasks run inline with their errors kept inside them, so a task's retries run one
    after the other (with propagation on, Celery raises its Retry signal to the caller)."""
    yield


@pytest.fixture
def slack(slack_server, settings, eager_celery):
    """Slack configured to the fake server, with a short timeout so timeouts are quick."""
    settings.SLACK_WEBHOOK_URL = slack_server.url
    settings.ALERT_HTTP_TIMEOUT = 0.5
    settings.SITE_URL = "https://portal.example"
    return slack_server


@pytest.fixture
def library(db) -> dict[str, Playbook]:
    """The default playbook library, by key."""
    playbooks_load_defaults()
    return {b.key: b for b in Playbook.objects.all()}


@pytest.fixture
def digital(db):
    """A tier-3 self-serve account with no CSM."""
    return AccountFactory(
        external_id="tinybyte", name="Tinybyte Labs", tier=3, segment="self_serve"
    )


@pytest.fixture
def strategic(alice):
    """Alice's tier-1 account."""
    return AccountFactory(external_id="northwind", name="Northwind Payments", tier=1, csm=alice)


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


@pytest.fixture
def webhook(webhook_server, settings, eager_tasks):
    """The nudge webhook pointed at the local receiver, signed, with a short timeout."""
    settings.NUDGE_WEBHOOK_URL = webhook_server.url
    settings.NUDGE_WEBHOOK_SECRET = SECRET
    settings.ALERT_HTTP_TIMEOUT = 0.5
    return webhook_server
