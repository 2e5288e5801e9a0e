"""The Redis cache, degrading to a miss when Redis cannot be reached.

Everything the portal caches can be recomputed from the database (aggregates, import
progress), so a Redis outage must cost time, never a 500 after a commit: a read that fails is a
miss, a write or delete that fails is skipped. Each failure is logged.
"""

from __future__ import annotations

import functools
import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def _degrade(miss):
    """Wrap a cache operation: on a Redis error, log it and answer `miss(*args)` instead."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as exc:
                log.warning("cache %s failed, treated as a miss: %s", method.__name__, exc)
                return miss(*args, **kwargs)

        return guarded

    return wrap


def _default(key, default=None, *args, **kwargs):
    return default


def _nothing(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _empty(*args, **kwargs):
    return {}


def _not_set(mapping, *args, **kwargs):
    return list(mapping)


class ResilientRedisCache(RedisCache):
    get = _degrade(_default)(RedisCache.get)
    get_many = _degrade(_empty)(RedisCache.get_many)
    has_key = _degrade(_false)(RedisCache.has_key)
    add = _degrade(_false)(RedisCache.add)
    set = _degrade(_nothing)(RedisCache.set)
    set_many = _degrade(_not_set)(RedisCache.set_many)
    touch = _degrade(_false)(RedisCache.touch)
    delete = _degrade(_false)(RedisCache.delete)
    delete_many = _degrade(_nothing)(RedisCache.delete_many)
