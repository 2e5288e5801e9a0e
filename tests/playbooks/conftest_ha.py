"""Fixtures for the alert, delivery and inbox tests (imported by those modules).

`slack_server` is a real HTTP server on 127.0.0.1 standing in for a Slack incoming webhook: it
records every request and answers per a plan (a status code, or a sleep past the client's
timeout), so retries and failures run through the real socket path of slack_sdk.
"""

from __future__ import annotations

import json
import smtplib
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.mail.backends.locmem import EmailBackend

from cs_portal.celery import app as celery_app
from health.models import HealthSnapshot
from health.services import health_model_current
from playbooks.models import Alert, AlertKind


@pytest.fixture
def eager_celery():
    """Run tasks inline even when REDIS_URL made the session's Celery app non-eager.

    Errors do not propagate out of eager tasks here, so a task's retries run inline one after
    the other (with propagation on, Celery raises its Retry signal to the caller instead)."""
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, False
    yield
    conf.task_always_eager, conf.task_eager_propagates = previous


@dataclass
class FakeSlack:
    """What the fake Slack received, and how it answers the next requests."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict] = field(default_factory=list)
    # One entry per coming request: an HTTP status (int) or ("sleep", seconds) then 200.
    # When the plan runs out, `default` answers.
    plan: list = field(default_factory=list)
    default: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/services/T000/B000/XXXX"

    def next_action(self):
        with self.lock:
            return self.plan.pop(0) if self.plan else self.default

    @property
    def bodies(self) -> list[dict]:
        return [r["json"] for r in self.requests]


def _handler(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with fake.lock:
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(raw or b"null"),
                    }
                )
            action = fake.next_action()
            status = 200
            if isinstance(action, tuple):
                time.sleep(action[1])  # past the client's timeout: it has given up by now
            else:
                status = action
            body = b"ok" if status == 200 else b"internal_error"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client hung up after its timeout
                pass

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def slack_server():
    fake = FakeSlack()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


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
