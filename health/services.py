"""Writes for health: recompute snapshots, version the model."""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User

from . import aggregates
from .engine import DEFAULT_GREEN_MIN, DEFAULT_WEIGHTS, DEFAULT_YELLOW_MIN, SIGNAL_KEYS, evaluate
from .models import HealthModel, HealthSnapshot

log = logging.getLogger(__name__)


def last_complete_day() -> date:
    """'As of' defaults to yesterday in UTC: today's usage is still arriving."""
    return datetime.now(UTC).date() - timedelta(days=1)


def health_model_current() -> HealthModel:
    model = HealthModel.objects.order_by("-version").first()
    if model is None:
        model, _ = HealthModel.objects.get_or_create(
            version=1,
            defaults={
                "weights": DEFAULT_WEIGHTS,
                "green_min": DEFAULT_GREEN_MIN,
                "yellow_min": DEFAULT_YELLOW_MIN,
                "note": "Default model",
            },
        )
    return model


def health_model_validate(*, weights: dict[str, float], green_min: int, yellow_min: int) -> None:
    errors: dict[str, str] = {}
    unknown = set(weights) - set(SIGNAL_KEYS)
    if unknown:
        errors["weights"] = f"unknown signals: {', '.join(sorted(unknown))}"
    elif any(w < 0 for w in weights.values()):
        errors["weights"] = "weights cannot be negative"
    elif round(sum(weights.values()), 6) != 100:
        errors["weights"] = f"weights must sum to 100 (they sum to {sum(weights.values()):g})"
    if not 0 < yellow_min < green_min <= 100:
        errors["thresholds"] = "need 0 < yellow threshold < green threshold ≤ 100"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def health_model_create(
    *,
    weights: dict[str, float],
    green_min: int,
    yellow_min: int,
    note: str,
    created_by: User | None,
) -> HealthModel:
    """Save a new version of the model; older versions and their snapshots stay as they were."""
    health_model_validate(weights=weights, green_min=green_min, yellow_min=yellow_min)
    full = {key: weights.get(key, 0) for key in SIGNAL_KEYS}
    latest = HealthModel.objects.select_for_update().order_by("-version").first()
    return HealthModel.objects.create(
        version=(latest.version + 1) if latest else 1,
        weights=full,
        green_min=green_min,
        yellow_min=yellow_min,
        note=note.strip()[:300],
        created_by=created_by,
    )


def health_recompute(
    *,
    as_of: date | None = None,
    account_ids: list[int] | None = None,
    model: HealthModel | None = None,
) -> int:
    """Score the accounts (all when account_ids is None) as of one day and store the snapshots.

    Inputs come from a fixed number of set-based queries; the snapshots are upserted in one
    transaction, so a killed worker leaves the previous scores, never half a book.
    """
    as_of = as_of or last_complete_day()
    model = model or health_model_current()
    started = time.monotonic()
    inputs = aggregates.build_inputs(as_of, account_ids)
    snapshots = []
    for inp in inputs:
        result = evaluate(
            inp,
            as_of=as_of,
            weights=model.weights,
            green_min=model.green_min,
            yellow_min=model.yellow_min,
        )
        snapshots.append(
            HealthSnapshot(
                account_id=inp.account_id,
                date=as_of,
                model=model,
                score=result.score,
                weighted_score=result.weighted_score,
                band=result.band,
                signals=result.signals_json(),
                overrides=result.overrides_json(),
                facts=result.facts,
            )
        )
    with transaction.atomic():
        # Snapshots and the alerts (and plays) they raise commit together or not at all.
        HealthSnapshot.objects.bulk_create(
            snapshots,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["account", "date"],
            update_fields=[
                "model",
                "score",
                "weighted_score",
                "band",
                "signals",
                "overrides",
                "facts",
                "computed_at",
            ],
        )
        from playbooks.hooks import after_recompute

        after_recompute(as_of=as_of, account_ids=account_ids)
    log.info(
        "recomputed health for %d accounts as of %s in %.2fs",
        len(snapshots),
        as_of,
        time.monotonic() - started,
    )
    return len(snapshots)


def health_backfill(
    *, since: date, until: date | None = None, account_ids: list[int] | None = None
) -> int:
    """Recompute every day from `since` to `until` (default: the last complete day)."""
    until = until or last_complete_day()
    total, day = 0, since
    model = health_model_current()
    while day <= until:
        total += health_recompute(as_of=day, account_ids=account_ids, model=model)
        day += timedelta(days=1)
    return total


def health_model_preview(*, weights: dict[str, float], green_min: int, yellow_min: int) -> dict:
    """How many accounts would change band under proposed weights, before anything is saved."""
    from collections import Counter

    as_of = (
        HealthSnapshot.objects.order_by("-date").values_list("date", flat=True).first()
        or last_complete_day()
    )
    current = dict(HealthSnapshot.objects.filter(date=as_of).values_list("account_id", "band"))
    moves: Counter = Counter()
    for inp in aggregates.build_inputs(as_of):
        band = evaluate(
            inp, as_of=as_of, weights=weights, green_min=green_min, yellow_min=yellow_min
        ).band
        before = current.get(inp.account_id)
        if before and before != band:
            moves[(before, band)] += 1
    return {
        "as_of": as_of,
        "accounts": len(current),
        "changed": sum(moves.values()),
        "moves": sorted(((a, b, n) for (a, b), n in moves.items()), key=lambda m: -m[2]),
    }
