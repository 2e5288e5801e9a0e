"""Login throttling: per account and per client, with a message that says when to retry, and
no timing difference between known and unknown email addresses."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.test import Client

from accounts import throttle
from tests.factories import UserFactory

PASSWORD = "correct horse battery"


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """A real key-derivation cost (milliseconds), unlike the MD5 the rest of the suite uses."""

    iterations = 20_000


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_CLIENT = 5
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 900
    settings.TRUSTED_PROXY_COUNT = 0
    # Counts of their own, whatever cache the run shares (never clear a shared Redis).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"login-throttle-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def users(db):
    return {
        name: UserFactory(email=f"{name}@cs.example", password=make_password(PASSWORD))
        for name in ("alice", "bob", "maya")
    }


def login(email: str, password: str, *, client_ip: str = "10.0.0.1", **headers):
    return Client(REMOTE_ADDR=client_ip).post(
        "/login/", {"username": email, "password": password}, **headers
    )


def logged_in(response) -> bool:
    return response.status_code == 302 and response.url == "/"


def test_right_password_is_refused_after_too_many_wrong_ones_with_a_retry_time(users, caplog):
    for _ in range(3):
        assert login("alice@cs.example", "wrong").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.name == "accounts.throttle"] == [
        "login throttle: account reached 3 failed logins (email 'alice@cs.example', "
        "client 10.0.0.1)"
    ]

    response = login("alice@cs.example", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    body = response.content.decode()
    assert "Too many failed logins for this account or from this network." in body
    assert "Try again in 15 minutes." in body
    assert "_auth_user_id" not in response.client.session


def test_after_the_window_the_right_password_works(users, monkeypatch):
    start = time.time()
    monkeypatch.setattr(throttle, "_now", lambda: start)
    for _ in range(3):
        login("alice@cs.example", "wrong")
    assert login("alice@cs.example", PASSWORD).status_code == 429

    monkeypatch.setattr(throttle, "_now", lambda: start + 899)
    assert "Try again in 1 second" in login("alice@cs.example", PASSWORD).content.decode()

    monkeypatch.setattr(throttle, "_now", lambda: start + 901)
    assert logged_in(login("alice@cs.example", PASSWORD))


def test_the_account_limit_holds_from_another_client(users):
    for _ in range(3):
        login("alice@cs.example", "wrong", client_ip="10.0.0.1")
    assert login("alice@cs.example", PASSWORD, client_ip="10.9.9.9").status_code == 429


def test_another_account_from_the_same_client_is_throttled_by_the_client_limit(users):
    for _ in range(2):
        login("alice@cs.example", "wrong")
    for _ in range(2):
        login("bob@cs.example", "wrong")
    login("nobody@cs.example", "wrong")  # unknown addresses count for the client too

    response = login("maya@cs.example", PASSWORD)

    assert response.status_code == 429
    assert "Try again in 15 minutes." in response.content.decode()
    # Maya from her own network is not affected.
    assert logged_in(login("maya@cs.example", PASSWORD, client_ip="10.0.0.2"))


def test_a_successful_login_clears_the_account_count(users):
    for _ in range(2):
        login("alice@cs.example", "wrong", client_ip="10.0.0.1")
    assert logged_in(login("alice@cs.example", PASSWORD, client_ip="10.0.0.1"))
    for _ in range(2):
        login("alice@cs.example", "wrong", client_ip="10.0.0.3")
    assert logged_in(login("alice@cs.example", PASSWORD, client_ip="10.0.0.3"))


def test_a_forged_forwarded_for_header_does_not_escape_the_client_limit(users):
    for n in range(5):
        login(f"guess{n}@cs.example", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert login("maya@cs.example", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(users, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"
    for n in range(5):
        login(f"guess{n}@cs.example", "wrong", client_ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    blocked = login(
        "maya@cs.example", PASSWORD, client_ip=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7"
    )
    assert blocked.status_code == 429
    other = login("maya@cs.example", PASSWORD, client_ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert logged_in(other)


def test_a_cache_outage_neither_locks_everyone_out_nor_lets_guessing_through(users, settings):
    """Redis down: counting falls back to this process's memory, so the limits still hold per
    process and a person with the right password still gets in."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    throttle.reset_fallback()
    assert logged_in(login("maya@cs.example", PASSWORD))
    for _ in range(3):
        assert login("alice@cs.example", "wrong").status_code == 200
    assert login("alice@cs.example", PASSWORD).status_code == 429


def test_unknown_and_known_addresses_take_the_same_time(users, settings):
    """Coarse: the medians of wrong-password attempts for a known and an unknown address are
    within a factor of two (both run the password hasher once)."""
    settings.PASSWORD_HASHERS = ["tests.test_login_throttle.FastPBKDF2PasswordHasher"]
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1000
    settings.LOGIN_FAILURES_PER_CLIENT = 1000
    known = users["alice"]
    known.set_password(PASSWORD)
    known.save()
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(12):
        for kind, email in (("known", "alice@cs.example"), ("unknown", "ghost@cs.example")):
            started = time.perf_counter()
            assert login(email, "wrong").status_code == 200
            timings[kind].append(time.perf_counter() - started)
    known_median = statistics.median(timings["known"])
    unknown_median = statistics.median(timings["unknown"])
    assert 0.5 < known_median / unknown_median < 2, timings


def test_with_the_resilient_default_cache_an_outage_still_falls_back(users, settings):
    """The default cache turns a Redis outage into silent misses; the throttle counts in its own
    strict alias, so the outage is noticed and the limits still hold in this process."""
    dead = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {"BACKEND": "cs_portal.cache.ResilientRedisCache", "LOCATION": dead},
        "throttle": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead},
    }
    throttle.reset_fallback()
    for _ in range(3):
        assert login("alice@cs.example", "wrong").status_code == 200
    assert login("alice@cs.example", PASSWORD).status_code == 429
