"""PostgreSQL restarts and outages, seen through a real gunicorn worker that keeps its
connection between requests (as production does)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.integration.conftest import worker_database_url
from tests.integration.helpers import stop

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, cookie: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _serve(database_url: str, tmp_path: Path) -> Iterator[str]:
    """One synchronous gunicorn worker: every request reuses the same persistent connection."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "600",
        # The test process's key, so the session it writes is valid in the server.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "cs_portal.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        stop(process)


@pytest.fixture
def server(transactional_db, tmp_path) -> Iterator[str]:
    yield from _serve(worker_database_url(), tmp_path)


@pytest.fixture
def server_without_database(transactional_db, tmp_path) -> Iterator[str]:
    """The same database URL on a port where no PostgreSQL listens."""
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@127.0.0.1:{_free_port()}/{s['NAME']}"
    yield from _serve(url, tmp_path)


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _terminate_other_backends() -> int:
    """What a PostgreSQL restart does to the web workers' connections."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_postgresql_restart_costs_no_request(server, alice):
    cookie = _session_cookie(alice)
    status, _ = _get(server + "/book/", cookie)
    assert status == 200

    assert _terminate_other_backends() >= 1

    status, body = _get(server + "/book/", cookie)
    assert status == 200, body[:500]
    assert "Alice Archer" in body
    status, body = _get(server + "/readyz")
    assert (status, json.loads(body)["status"]) == (200, "ready")


def test_logged_in_user_gets_the_portal_error_page_with_postgresql_unreachable(
    server_without_database, alice
):
    cookie = _session_cookie(alice)

    status, body = _get(server_without_database + "/book/", cookie)

    assert status == 500
    assert "<title>Something went wrong · CS Portal</title>" in body
    assert "Back to the book" in body
    assert _get(server_without_database + "/healthz")[0] == 200
    status, body = _get(server_without_database + "/readyz")
    assert status == 503
    assert json.loads(body)["checks"]["database"] == "failed"
