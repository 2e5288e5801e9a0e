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


def worker_start(
    log_path: Path, *, name: str, env: dict[str, str], beat_schedule: Path | None = None
) -> Worker:
    """Start a worker (with the beat inside it when `beat_schedule` is given) and wait until it
    answers ping. Stop it with `worker_stop`."""
    from cs_portal.celery import app

    hostname = f"{name}-{os.getpid()}@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    beat = ["-B", "-s", str(beat_schedule)] if beat_schedule else []
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
                *beat,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, log_path, hostname)
    deadline = time.monotonic() + READY_SECONDS
    while not app.control.ping(destination=[hostname], timeout=0.5):
        if process.poll() is not None:
            worker_stop(worker)
            pytest.fail(f"the Celery worker exited with {process.returncode}:\n{worker.log()}")
        if time.monotonic() > deadline:
            worker_stop(worker)
            pytest.fail(
                f"the Celery worker did not answer ping in {READY_SECONDS} s:\n{worker.log()}"
            )
    return worker


def worker_stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        stop(worker.process)


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path, request):
    """A real worker consuming from REDIS_URL, ready (answers ping) before the test starts.

    `@pytest.mark.worker_env(NAME="value", ...)` adds to the worker's environment (e.g. a
    short settle window); `@pytest.mark.worker_beat` runs the beat (the periodic sweeps) in it."""
    from cs_portal.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # this test needs the broker, whatever ran before
    app.control.purge()  # messages a previous, interrupted run may have left on this Redis db
    marker = request.node.get_closest_marker("worker_env")
    beat = request.node.get_closest_marker("worker_beat")
    worker = None
    try:
        worker = worker_start(
            tmp_path / "worker.log",
            name="itest",
            env={**WORKER_ENV, **(marker.kwargs if marker else {})},
            beat_schedule=tmp_path / "beat-schedule" if beat else None,
        )
        yield worker
    finally:
        if worker is not None:
            worker_stop(worker)
        app.conf.task_always_eager = eager
