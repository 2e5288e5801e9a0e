"""Which days' usage has landed: the book's usage watermark.

Usage arrives as a daily feed some time after the day ends. Until a day's usage has landed, a
recompute as of that day must not read the missing day as zero (every account would look like
it stopped); it scores usage through the newest landed day instead. With no usage landed at
all (a fresh install that has loaded contracts but not usage yet), nothing is scored: the
accounts are "awaiting usage". An account with no usage on a landed day really had none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Max

from .models import UsageDay


def usage_landed_through() -> date | None:
    """The newest day any usage has landed for (None: none yet)."""
    return UsageDay.objects.aggregate(last=Max("date"))["last"]


def usage_days_land(days: Iterable[date]) -> bool:
    """Record that these days' usage has landed; True when one of them is newer than the
    watermark was (a new day for the whole book: accounts with no usage that day are scored
    too, not only the ones the import touched)."""
    days = set(days)
    if not days:
        return False
    before = usage_landed_through()
    UsageDay.objects.bulk_create(
        [UsageDay(date=d) for d in sorted(days)],
        update_conflicts=True,
        unique_fields=["date"],
        update_fields=["last_import_at"],
    )
    return before is None or max(days) > before
