"""Liveness (/healthz), readiness (/readyz) and the error page when PostgreSQL is down."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.test import Client


@contextmanager
def database_unreachable():
    """Every query fails as it does when PostgreSQL is down or refuses connections."""

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    originals = connection.cursor, connection.chunked_cursor
    connection.cursor = connection.chunked_cursor = refuse
    try:
        yield
    finally:
        connection.cursor, connection.chunked_cursor = originals


@pytest.fixture
def redis_down(settings):
    """A Redis URL where nothing listens (port 1 is never a Redis server)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"


def test_healthz_answers_without_touching_the_database(db, client):
    with database_unreachable():
        response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_answers(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ready", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_is_down(client, settings):
    settings.REDIS_URL = ""
    with database_unreachable():
        response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content) == {
        "status": "not ready",
        "checks": {"database": "failed"},
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_it_is_configured_and_down(client, redis_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content) == {
        "status": "not ready",
        "checks": {"database": "ok", "redis": "failed"},
    }


@pytest.mark.django_db
def test_probes_need_no_login_and_answer_http_when_https_is_forced(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.REDIS_URL = ""
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/login/").status_code == 301


@pytest.fixture
def alice_browser(alice) -> Client:
    """Alice logged in, seeing the error pages a browser would (no exception re-raised)."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


def test_logged_in_user_gets_the_portal_error_page_when_the_database_is_down(alice_browser):
    with database_unreachable():
        response = alice_browser.get("/book/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "Back to the book" in body
    assert "css/portal" in body
    # The page in the portal's layout, not Django's bare fallback text.
    assert "<title>Something went wrong · CS Portal</title>" in body


def test_logged_in_user_gets_the_not_found_page_when_the_database_is_down(alice_browser):
    with database_unreachable():
        response = alice_browser.get("/no-such-page/")
    assert response.status_code == 404
    assert "<title>Not found · CS Portal</title>" in response.content.decode()
