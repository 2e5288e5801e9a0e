"""Fixtures for the success, tiering and nudge tests (imported by those modules).

`webhook_server` is a real HTTP server on 127.0.0.1 standing in for the product's nudge
receiver: it records each request's raw body and headers (so a test can check the HMAC
signature exactly as a receiver would) and answers per a plan: a status code, or a sleep past
the client's timeout.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cs_portal.celery import app as celery_app
from health.models import HealthSnapshot, UsageFact
from health.services import health_model_current


@pytest.fixture
def eager_tasks():
    """Tasks inline, and their errors kept inside the task so retries run one after the other
    (with propagation on, Celery would raise its Retry signal to the caller instead)."""
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, False
    yield
    conf.task_always_eager, conf.task_eager_propagates = previous


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict] = field(default_factory=list)
    plan: list = field(default_factory=list)  # per request: a status, or ("sleep", seconds)
    default: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/nudges"

    def next_action(self):
        with self.lock:
            return self.plan.pop(0) if self.plan else self.default


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": raw}
                )
            action = receiver.next_action()
            status = 200
            if isinstance(action, tuple):
                time.sleep(action[1])
            else:
                status = action
            body = b'{"ok":true}' if status < 300 else b'{"error":"boom"}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up after its timeout
                pass

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def webhook_server():
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


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
    return UsageFact.objects.create(account=account, date=day, metric=metric, value=value, **dims)
