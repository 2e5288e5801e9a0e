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


@shared_task(acks_late=True)
def usage_partitions_ahead() -> list[str]:
    """PostgreSQL: the usage facts' monthly partitions for the months ahead (nightly)."""
    from .partitions import usage_partitions_ahead as ahead

    return ahead()


@shared_task(acks_late=True, max_retries=3, autoretry_for=(ConnectionError,), retry_backoff=True)
def relay_recompute_requests() -> int | None:
    """Run the pending recompute requests once they have settled (queued after each request
    commits, and swept every minute by beat in case a queueing failed)."""
    return services.recompute_requests_run()


def enqueue_recompute(account_ids: Iterable[int] | None) -> None:
    """Rescore these accounts (None: the book) once the current load settles. Inside a
    transaction the request commits with it; outside one it commits at once."""
    services.recompute_request(account_ids=account_ids, reason="requested")
