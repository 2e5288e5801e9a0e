"""Import kinds owned by data trust: `datasets` (the catalogue) and `freshness` (observations the
platform pushes, e.g. to POST /api/v1/import/freshness every few minutes)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from cs_portal.imports import (
    Column,
    ImportKind,
    ImportResult,
    Row,
    WriteStats,
    parse_int,
    parse_str,
    present_fields,
    register,
    upsert,
)
from health.imports import parse_chain, parse_dataset, parse_list

from .models import Dataset, FreshnessObservation
from .services import freshness_evaluate

SLA_MAX_MINUTES = 7 * 24 * 60  # a week: anything slower is not a freshness SLA
FUTURE_TOLERANCE = timedelta(hours=1)  # clocks drift; an hour ahead is still a typo-free stamp


def parse_catalogue_name(raw: str) -> str:
    value = parse_dataset(raw)
    if "*" in value or value.count(".") != 2:
        raise ValueError(f"'{raw}' is not one table (chain.schema.table, no wildcard)")
    return value


def parse_observed_at(raw: str) -> datetime:
    """An ISO 8601 date and time; without an offset it is UTC."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{raw}' is not an ISO datetime (like 2026-08-19T14:05:00Z)") from None
    if len(text) <= 10:  # a bare date: when in the day?
        raise ValueError(f"'{raw}' has no time of day; give an ISO datetime like {text}T14:05:00Z")
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > timezone.now() + FUTURE_TOLERANCE:
        raise ValueError(f"{value:%Y-%m-%d %H:%M} UTC is in the future; observations are measured")
    return value


def parse_lag(raw: str) -> float:
    try:
        if "_" in raw:  # float() takes 1_000; a spreadsheet or the database would not
            raise ValueError
        value = float(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a number of minutes") from None
    if not math.isfinite(value):
        raise ValueError(f"'{raw}' is not a finite number")
    if value < 0:
        raise ValueError(f"{raw} is negative; a lag cannot be below zero minutes")
    return value


@register
class DatasetsImport(ImportKind):
    key = "datasets"
    label = "Datasets (catalogue)"
    order = 72
    description = "The dataset catalogue: chains each table covers and its freshness SLA."
    natural_key = ("dataset",)
    columns = [
        Column("dataset", parse_catalogue_name, required=True),
        Column("chains", parse_list(parse_chain)),
        Column("freshness_sla_minutes", parse_int(minimum=1, maximum=SLA_MAX_MINUTES)),
        Column("description", parse_str(300)),
    ]

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        items: list[dict[str, Any]] = [
            {
                "name": r.values["dataset"],
                "chains": r.values["chains"] or [],
                "freshness_sla_minutes": r.values["freshness_sla_minutes"],
                "description": r.values["description"] or "",
            }
            for r in rows
        ]
        return upsert(
            Dataset,
            items,
            key=("name",),
            fields=present_fields(
                columns,
                {
                    "chains": "chains",
                    "freshness_sla_minutes": "freshness_sla_minutes",
                    "description": "description",
                },
            ),
        )


@register
class FreshnessImport(ImportKind):
    key = "freshness"
    label = "Freshness observations"
    order = 74
    description = "How far behind the chain tip a catalogued dataset was, measured at a moment."
    natural_key = ("dataset", "observed_at")
    columns = [
        Column("dataset", parse_dataset, required=True),
        Column("observed_at", parse_observed_at, required=True),
        Column("lag_minutes", parse_lag, required=True),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        wanted = {row.values["dataset"] for row in rows}
        ids = dict(Dataset.objects.filter(name__in=wanted).values_list("name", "id"))
        for row in rows:
            dataset_id = ids.get(row.values["dataset"])
            if dataset_id is None:
                result.add_error(
                    row.number,
                    "dataset",
                    f"unknown dataset '{row.values['dataset']}'; add it to the catalogue "
                    "first (import kind datasets)",
                )
            else:
                row.refs["dataset"] = dataset_id

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        """Upsert on (dataset, observed_at), reading back only the span the file covers (a
        dataset observed every few minutes piles up rows fast)."""
        stats = WriteStats()
        by_dataset: dict[int, list[Row]] = {}
        for row in rows:
            by_dataset.setdefault(row.refs["dataset"], []).append(row)
        to_create, to_update = [], []
        for dataset_id, mine in by_dataset.items():
            times = [r.values["observed_at"] for r in mine]
            existing = {
                o.observed_at: o
                for o in FreshnessObservation.objects.filter(
                    dataset_id=dataset_id,
                    observed_at__gte=min(times),
                    observed_at__lte=max(times),
                )
            }
            for row in mine:
                found = existing.get(row.values["observed_at"])
                if found is None:
                    to_create.append(
                        FreshnessObservation(
                            dataset_id=dataset_id,
                            observed_at=row.values["observed_at"],
                            lag_minutes=row.values["lag_minutes"],
                        )
                    )
                elif found.lag_minutes != row.values["lag_minutes"]:
                    found.lag_minutes = row.values["lag_minutes"]
                    to_update.append(found)
                else:
                    stats.unchanged += 1
        FreshnessObservation.objects.bulk_create(to_create, batch_size=2000)
        FreshnessObservation.objects.bulk_update(to_update, ["lag_minutes"], batch_size=500)
        stats.created, stats.updated = len(to_create), len(to_update)
        return stats

    def before_commit(self, rows: list[Row], result: ImportResult) -> None:
        since: dict[int, datetime] = {}
        for row in rows:
            dataset_id, at = row.refs["dataset"], row.values["observed_at"]
            if dataset_id not in since or at < since[dataset_id]:
                since[dataset_id] = at
        freshness_evaluate(since=since)
