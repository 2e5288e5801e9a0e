"""Import kinds owned by health: `usage` (daily facts) and `incidents` (data-trust events)."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection

from accounts.imports import resolve_accounts
from cs_portal.imports import (
    Column,
    ImportKind,
    ImportResult,
    Row,
    WriteStats,
    parse_date,
    parse_enum,
    parse_identifier,
    parse_str,
    present_fields,
    register,
    upsert,
)

from . import events, usage_store
from .aggregates import usage_caches_clear
from .landing import usage_days_land
from .models import FailureReason, Incident, IncidentKind, Metric, Product, Severity
from .services import recompute_request

SLUG = re.compile(r"^[a-z0-9_]+$")
DATASET = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_*]+){1,2}$")


def parse_value(raw: str) -> float:
    if "_" in raw:  # float() takes 1_000; the database's number cast does not
        raise ValueError(f"'{raw}' is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"'{raw}' is not a finite number")
    if value < 0:
        raise ValueError(f"{raw} is negative; usage cannot be below zero")
    return value


def parse_chain(raw: str) -> str:
    value = raw.strip().lower()
    if not SLUG.match(value) or len(value) > 40:
        raise ValueError(f"'{raw}' is not a chain slug (like ethereum, base, solana)")
    return value


def parse_dataset(raw: str) -> str:
    value = raw.strip().lower()
    if not DATASET.match(value) or len(value) > 120:
        raise ValueError(f"'{raw}' is not a dataset name (chain.schema.table)")
    return value


def parse_list(item_parser):
    def parse(raw: str) -> list[str]:
        return sorted({item_parser(part) for part in raw.split(";") if part.strip()})

    return parse


USAGE_COLUMNS = ("account", "date", "metric", "value", "product", "chain", "dataset", "reason")


@register
class UsageImport(ImportKind):
    key = "usage"
    label = "Usage (daily facts)"
    order = 60
    description = "Daily usage per account and metric, with optional product/chain/dataset/reason."
    keeps_rows = False  # files run to millions of rows; the hooks read result.touched_*
    natural_key = ("account", "date", "metric", "product", "chain", "dataset", "reason")
    columns = [
        Column("account", parse_str(64), required=True),
        Column("date", parse_date, required=True),
        Column("metric", parse_enum(Metric.values), required=True),
        Column("value", parse_value, required=True),
        Column("product", parse_enum(Product.values)),
        Column("chain", parse_chain),
        Column("dataset", parse_dataset),
        Column("reason", parse_enum(FailureReason.values)),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        for row in rows:
            if row.values["reason"] and row.values["metric"] != "failed_queries":
                result.add_error(row.number, "reason", "only failed_queries rows carry a reason")
        resolve_accounts(rows, result)

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        return usage_store.usage_upsert(
            [
                (
                    r.refs["account"],
                    r.values["date"],
                    r.values["metric"],
                    r.values["product"] or "",
                    r.values["chain"] or "",
                    r.values["dataset"] or "",
                    r.values["reason"] or "",
                    r.values["value"],
                )
                for r in rows
            ]
        )

    def chunk_written(self, rows: list[Row], result: ImportResult) -> None:
        super().chunk_written(rows, result)
        result.touched_days |= {r.values["date"] for r in rows}

    def bulk_csv(self, file, result: ImportResult, progress) -> bool:
        """PostgreSQL: COPY into a staging table, validate and upsert set-based."""
        if connection.vendor != "postgresql":
            return False
        # Looked up on the module at call time, so a test can watch which path an import took.
        return usage_store.usage_copy_import(self, file, result, progress)

    def before_commit(self, rows: list[Row], result: ImportResult) -> None:
        days = result.touched_days or {r.values["date"] for r in rows}
        new_day = usage_days_land(days)
        # A new day for the book: every account is scored for it, including those that had no
        # usage that day (they are the ones a CSM must hear about).
        recompute_request(
            account_ids=None
            if new_day
            else (result.touched_accounts or self.affected_accounts(rows)),
            reason="import:usage",
        )

    def after_commit(self, rows: list[Row], result: ImportResult) -> None:
        # The import may have added older days, or the book's newest one. (The rescore of the
        # accounts it touched was requested inside its transaction: see health.apps.)
        usage_caches_clear()


@register
class IncidentsImport(ImportKind):
    key = "incidents"
    label = "Incidents (data trust)"
    order = 70
    description = "Freshness, accuracy, outage and schema-change events on datasets/chains."
    natural_key = ("key",)
    columns = [
        Column("key", parse_identifier, required=True),
        Column("kind", parse_enum(IncidentKind.values), required=True),
        Column("severity", parse_enum(Severity.values), required=True),
        Column("started", parse_date, required=True),
        Column("resolved", parse_date),
        Column("datasets", parse_list(parse_dataset)),
        Column("chains", parse_list(parse_chain)),
        Column("title", parse_str(200)),
        # Schema changes only: the day the change takes effect and the migration note.
        Column("effective", parse_date),
        Column("note", parse_str(4000)),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        for row in rows:
            v = row.values
            if v["resolved"] and v["resolved"] < v["started"]:
                result.add_error(
                    row.number,
                    "resolved",
                    f"resolved {v['resolved']} is before started {v['started']}",
                )
            if v["kind"] != IncidentKind.SCHEMA_CHANGE:
                for column in ("effective", "note"):
                    if v[column]:
                        result.add_error(
                            row.number,
                            column,
                            f"only schema_change incidents take {column} "
                            f"(this one is {v['kind']}); leave it empty",
                        )

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        items: list[dict[str, Any]] = [
            {
                "key": r.values["key"],
                "kind": r.values["kind"],
                "severity": r.values["severity"],
                "started": r.values["started"],
                "resolved": r.values["resolved"],
                "datasets": r.values["datasets"] or [],
                "chains": r.values["chains"] or [],
                "title": r.values["title"] or "",
                "effective": r.values["effective"],
                "note": r.values["note"] or "",
            }
            for r in rows
        ]
        return upsert(
            Incident,
            items,
            key=("key",),
            fields=present_fields(
                columns,
                {
                    c: c
                    for c in (
                        "kind",
                        "severity",
                        "started",
                        "resolved",
                        "datasets",
                        "chains",
                        "title",
                        "effective",
                        "note",
                    )
                },
            ),
        )

    def before_commit(self, rows: list[Row], result: ImportResult) -> None:
        # An incident can touch any account that used its datasets: rescore the whole book
        # (a schema change caps nobody's health, so a file of only those rescores nothing).
        if any(r.values["kind"] != IncidentKind.SCHEMA_CHANGE for r in rows):
            recompute_request(account_ids=None, reason="import:incidents")
        events.announce_incidents(keys=[r.values["key"] for r in rows])
