"""Point the test process at a Redis of the test's choosing (or at none): its cache, and its
Celery app's broker and result backend. For the tests of what happens while Redis is down."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from cs_portal.celery import app as celery_app


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reset_connections() -> None:
    # Only forgotten, not closed: kombu shares the pools of a URL process-wide.
    celery_app._after_fork()  # forget the broker connection pool and the producer pool
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@contextmanager
def celery_on(url: str, *, publish_retry: bool = True) -> Iterator[None]:
    """The Celery app, not eager, with `url` as broker and result backend, for the block."""
    conf = celery_app.conf
    saved = {
        name: conf[name]
        for name in ("broker_url", "result_backend", "task_always_eager", "task_publish_retry")
    }
    conf.update(
        broker_url=url,
        result_backend=url,
        task_always_eager=False,
        task_publish_retry=publish_retry,
    )
    _reset_connections()
    try:
        yield
    finally:
        conf.update(saved)
        _reset_connections()


def redis_caches(url: str) -> dict:
    """CACHES as the settings build them when REDIS_URL is `url`."""
    from cs_portal.settings import redis_caches as build

    return build(url)
