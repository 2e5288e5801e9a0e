"""Thin Celery entry points for the cockpit."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.core.cache import cache
from django.db import transaction

from cs_portal import clock
from health import events as health_events

from . import selectors

log = logging.getLogger(__name__)

WARM_TASK_EXPIRES = 15 * 60
# Set while a warm-up waits in the queue: a burst of recomputes (a load's files, single-account
# imports) queues one, not one each, so it never stands between the worker and a rescore twice.
# It lapses after a minute, so a message lost on the way (a purged queue) holds back no later
# warm-up for longer than that.
WARM_PENDING_KEY = "cockpit:warm-pending"
WARM_PENDING_SECONDS = 60


@shared_task(acks_late=True, ignore_result=True)
def warm_cockpit() -> int:
    """Fill the cockpit's cached panels for today (see `selectors.panels_warm`)."""
    cache.delete(WARM_PENDING_KEY)  # a recompute from now on queues the next one
    return selectors.panels_warm(on=clock.today())


def warm_after_recompute(
    *, as_of: date, account_ids: list[int] | None, since_days: int = 1
) -> None:
    """Registered with `health.events.on_recompute`: once a live recompute commits, a worker
    computes what its new snapshots made stale (the health panel's 90-day series, retention),
    so the manager who opens the cockpit next is not the one who waits for it. Inline (no
    worker) nothing is queued: the request that recomputed would wait instead of the visitor.
    A lost message costs only that: the next visitor computes the panel, as before."""
    if warm_cockpit.app.conf.task_always_eager or not health_events.is_live(as_of):
        return
    transaction.on_commit(_enqueue_warm, robust=True)


def _enqueue_warm() -> None:
    try:
        if not cache.add(WARM_PENDING_KEY, "1", WARM_PENDING_SECONDS):
            return  # one is already waiting; it will read this recompute's snapshots too
        warm_cockpit.apply_async(expires=WARM_TASK_EXPIRES)
    except Exception:  # broker or cache down: the cache fills on the next visit instead
        cache.delete(WARM_PENDING_KEY)
        log.warning("could not queue the cockpit's cache warm-up", exc_info=True)
