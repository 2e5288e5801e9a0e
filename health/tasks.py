"""Thin Celery entry points: take ids, call a service."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from celery import shared_task

from . import services


@shared_task(acks_late=True, max_retries=3, autoretry_for=(ConnectionError,), retry_backoff=True)
def recompute_health(account_ids: list[int] | None = None, as_of: str | None = None) -> int:
    """Recompute the given accounts (all when None) as of a day (default: the last full day)."""
    return services.health_recompute(
        as_of=date.fromisoformat(as_of) if as_of else None, account_ids=account_ids
    )


@shared_task(acks_late=True)
def recompute_book_nightly() -> int:
    return services.health_recompute()


def enqueue_recompute(account_ids: Iterable[int] | None) -> None:
    """One task per import (never per row). Called after the import's transaction commits."""
    ids = None if account_ids is None else sorted(set(account_ids))
    if ids == []:
        return
    recompute_health.delay(ids)
