"""Login throttling with its counts in the real Redis cache: shared by every web process."""

from __future__ import annotations

import re
import uuid

from django.core.cache import caches
from django.test import Client

from accounts import throttle


def test_counts_in_redis_refuse_the_right_password_and_name_the_wait(settings, alice):
    assert settings.CACHES["throttle"]["BACKEND"].endswith("RedisCache")
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_CLIENT = 50
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 30  # the keys expire soon after the test
    alice.set_password("right-password-1")
    alice.save()
    client_ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    for _ in range(3):
        response = Client(REMOTE_ADDR=client_ip).post(
            "/login/", {"username": "alice@cs.example", "password": "wrong"}
        )
        assert response.status_code == 200
    # The counts live in Redis, not in this process's fallback.
    throttle.reset_fallback()
    key = throttle._counters("alice@cs.example", client_ip)[0][0]
    assert caches["throttle"].get(key) == 3

    response = Client(REMOTE_ADDR=client_ip).post(
        "/login/", {"username": "alice@cs.example", "password": "right-password-1"}
    )

    assert response.status_code == 429
    assert re.search(r"Try again in (2\d|30) seconds\.", response.content.decode())
    caches["throttle"].delete_many([key, f"{key}:start"])
