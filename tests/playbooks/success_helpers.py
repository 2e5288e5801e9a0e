"""Rows for the success, tiering and nudge tests: snapshots with the facts their rules read,
usage facts, and the nudge webhook's signing secret."""

from __future__ import annotations

from datetime import date

from health.models import HealthSnapshot, UsageFact
from health.services import health_model_current
from tests.conftest import usage_landed

SECRET = "whsec_test_0123456789"


def snapshot(
    account, day: date, *, score: int = 70, band: str = "green", facts: dict | None = None
) -> HealthSnapshot:
    """A stored snapshot with the facts the tiering and nudge rules read."""
    return HealthSnapshot.objects.update_or_create(
        account=account,
        date=day,
        defaults={
            "model": health_model_current(),
            "score": score,
            "weighted_score": score,
            "band": band,
            "signals": [],
            "overrides": [],
            "facts": facts or {},
        },
    )[0]


def usage(account, day: date, metric: str, value: float, **dims) -> UsageFact:
    usage_landed(day)
    return UsageFact.objects.create(account=account, date=day, metric=metric, value=value, **dims)
