"""Integration fixtures: a real Celery worker process on the pytest-django test database.

These tests need the full stack: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). Without both
they are skipped. The worker is a subprocess (`celery -A cs_portal worker --pool=solo`) pointed
at the live test database, so the data a test commits (transactional_db / live_server) is what
the worker reads; it is always terminated at teardown, before pytest-django flushes the tables.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import stack_available
from tests.integration.helpers import stop

ROOT = Path(__file__).resolve().parents[2]
CELERY = ROOT / ".venv" / "bin" / "celery"
READY_SECONDS = 30
# The worker's defaults for tests: a load settles after 1 s of quiet (production: 20 s) and
# alert deliveries wait 1 s before sending (production: 60 s).
WORKER_ENV = {"RECOMPUTE_SETTLE_SECONDS": "1", "ALERT_DELIVERY_GRACE_SECONDS": "1"}


@pytest.fixture(autouse=True)
def _short_settle(settings, request):
    """The test process queues the relay with the same settle window the worker waits for."""
    marker = request.node.get_closest_marker("worker_env")
    env = {**WORKER_ENV, **(marker.kwargs if marker else {})}
    settings.RECOMPUTE_SETTLE_SECONDS = int(env["RECOMPUTE_SETTLE_SECONDS"])
    settings.ALERT_DELIVERY_GRACE_SECONDS = int(env["ALERT_DELIVERY_GRACE_SECONDS"])


requires_stack = pytest.mark.skipif(
    not stack_available(),
    reason="needs DATABASE_URL=postgres://… and REDIS_URL (a real PostgreSQL and Redis)",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)
            item.add_marker(requires_stack)


def worker_database_url() -> str:
    """The URL of the database pytest-django created (test_…), for the worker's environment."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{s['NAME']}"


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path
    hostname: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log()))


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path, request):
    """A real worker consuming from REDIS_URL, ready (answers ping) before the test starts.

    `@pytest.mark.worker_env(NAME="value", ...)` adds to the worker's environment (e.g. a
    short settle window)."""
    from cs_portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # this test needs the broker, whatever ran before
    app.control.purge()  # messages a previous, interrupted run may have left on this Redis db
    hostname = f"itest-{os.getpid()}@localhost"
    marker = request.node.get_closest_marker("worker_env")
    extra = {**WORKER_ENV, **(marker.kwargs if marker else {})}
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "cs_portal",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-l",
                "info",
                "-n",
                hostname,
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, log_path, hostname)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not app.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"the Celery worker exited with {process.returncode}:\n{worker.log()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the Celery worker did not answer ping in {READY_SECONDS} s:\n{worker.log()}"
                )
        yield worker
    finally:
        stop(process)
        app.conf.task_always_eager = eager
