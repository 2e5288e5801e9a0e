"""Login throttling: failed logins counted per account and per client in the cache.

After LOGIN_FAILURES_PER_ACCOUNT failures for one email address, or LOGIN_FAILURES_PER_CLIENT
from one client address, within LOGIN_THROTTLE_WINDOW_SECONDS of the first, logins for it are
refused (even with the right password) until that window ends.

- The account key is the typed email address, hashed: it is counted whether or not such a user
  exists, and a refusal never looks the user up, so the throttle adds no difference between
  known and unknown addresses (Django's ModelBackend runs the hasher for unknown ones).
- The client is REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front the address the
  nearest untrusted hop put in X-Forwarded-For; otherwise the header is ignored (forgeable).
- The cache may be Redis. When it fails, counting moves to this process's memory: the limits
  still hold per web process (an attacker gets at most the limit times the number of processes),
  and nobody is locked out by the outage itself. Neither "refuse all" nor "allow all".
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest

log = logging.getLogger(__name__)
_PREFIX = "login-throttle"
_fallback = LocMemCache(_PREFIX, {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def _now() -> float:
    return time.time()


def reset_fallback() -> None:
    """Forget the in-process counts (tests)."""
    _fallback.clear()


def _cache() -> BaseCache:
    """The `throttle` cache when configured: the same Redis as the default cache but without its
    degrade-to-a-miss wrapper, so an outage raises here and counting moves to this process
    (a silent miss would let guessing through)."""
    return caches["throttle" if "throttle" in settings.CACHES else "default"]


def _with_cache[T](operation: Callable[[BaseCache], T]) -> T:
    try:
        return operation(_cache())
    except (redis.RedisError, OSError):
        log.warning("login throttle: cache unavailable, counting in this process", exc_info=True)
        return operation(_fallback)


def client_address(request: HttpRequest) -> str:
    """The address of the client the login came from (see the module docstring)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _counters(username: str, client: str) -> list[tuple[str, int]]:
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return [
        (f"{_PREFIX}:account:{account}", settings.LOGIN_FAILURES_PER_ACCOUNT),
        (f"{_PREFIX}:client:{client}", settings.LOGIN_FAILURES_PER_CLIENT),
    ]


def login_retry_after(*, username: str, client: str) -> int:
    """Seconds until a login for `username` from `client` is allowed again; 0: allowed now."""
    window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    now = _now()
    keys = [key for key, _ in _counters(username, client)]
    stored = _with_cache(lambda c: c.get_many([f"{k}:start" for k in keys] + keys))
    wait = 0.0
    for key, limit in _counters(username, client):
        start, count = stored.get(f"{key}:start"), stored.get(key, 0)
        if start is not None and count >= limit and start + window > now:
            wait = max(wait, start + window - now)
    return math.ceil(wait)


def login_failed(*, username: str, client: str) -> None:
    """Count a failed login against the address typed and the client."""
    window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    now = _now()

    def count(cache: BaseCache) -> None:
        for key, limit in _counters(username, client):
            start = cache.get(f"{key}:start")
            if start is None or start + window <= now:
                cache.set_many({f"{key}:start": now, key: 0}, timeout=window)
            try:
                failures = cache.incr(key)
            except ValueError:  # expired between the two calls
                cache.set_many({f"{key}:start": now, key: 1}, timeout=window)
                failures = 1
            if failures == limit:
                log.warning(
                    "login throttle: %s reached %d failed logins (email %r, client %s)",
                    key.split(":")[1],
                    limit,
                    username,
                    client,
                )

    _with_cache(count)


def login_succeeded(*, username: str) -> None:
    """The right password: the account's count starts over (the client's does not, or one's own
    account would reset the count between guesses at others)."""
    key = _counters(username, "")[0][0]
    _with_cache(lambda cache: cache.delete_many([key, f"{key}:start"]))
