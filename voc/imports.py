"""The `feedback` import kind: what customers told us, from a ticket system, Slack or QBR notes
(natural key: account + date + title). Behavioural items are not imported: usage makes them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from accounts.imports import resolve_accounts
from cs_portal.imports import (
    Column,
    ImportKind,
    ImportResult,
    Row,
    WriteStats,
    parse_date,
    parse_enum,
    parse_str,
    present_fields,
    register,
)
from health.imports import parse_chain, parse_dataset

from .models import FeedbackItem, FeedbackSeverity, FeedbackType, Source
from .services import accounts_state, themes_route

IMPORTED_SOURCES = [s for s in Source.values if s != Source.BEHAVIORAL]
UNKNOWN = (Decimal(0), None, "")  # an account with no contract on the item's date
UPDATABLE = {
    "type": "type",
    "severity": "severity",
    "detail": "detail",
    "chain": "chain",
    "dataset": "dataset",
    "source": "source",
}


@register
class FeedbackImport(ImportKind):
    key = "feedback"
    label = "Feedback (voice of the customer)"
    order = 80
    description = (
        "What customers asked for or complained about: type, severity, the chain or dataset it "
        "is about, and where it was heard. Each item joins the theme of its type, chain and "
        "dataset."
    )
    natural_key = ("account", "date", "title")
    columns = [
        Column("account", parse_str(64), required=True),
        Column("date", parse_date, required=True),
        Column("type", parse_enum(FeedbackType.values), required=True),
        Column("severity", parse_enum(FeedbackSeverity.values), required=True),
        Column("title", parse_str(200), required=True),
        Column("detail", parse_str(5000)),
        Column("chain", parse_chain),
        Column("dataset", parse_dataset),
        Column("source", parse_enum(IMPORTED_SOURCES)),
    ]

    def resolve(self, rows: list[Row], result: ImportResult) -> None:
        resolve_accounts(rows, result)

    def write(self, rows: list[Row], columns: set[str]) -> WriteStats:
        """Upsert on (account, date, title). A new item joins the theme its tags route to and
        keeps the account's ARR, tier and band of its date; an existing one keeps its theme
        (product may have moved it) and takes the file's other columns."""
        stats = WriteStats()
        values = [
            {
                "account_id": r.refs["account"],
                "date": r.values["date"],
                "title": r.values["title"],
                "type": r.values["type"],
                "severity": r.values["severity"],
                "detail": r.values["detail"] or "",
                "chain": r.values["chain"] or "",
                "dataset": r.values["dataset"] or "",
                "source": r.values["source"] or "",
            }
            for r in rows
        ]
        existing = {
            (i.account_id, i.date, i.title): i
            for i in FeedbackItem.objects.exclude(source=Source.BEHAVIORAL).filter(
                account_id__in={v["account_id"] for v in values},
                date__in={v["date"] for v in values},
                title__in={v["title"] for v in values},
            )
        }
        fields = present_fields(columns, UPDATABLE)
        new, changed = [], []
        for v in values:
            found = existing.get((v["account_id"], v["date"], v["title"]))
            if found is None:
                new.append(v)
                continue
            diff = [f for f in fields if getattr(found, f) != v[f]]
            for f in diff:
                setattr(found, f, v[f])
            if diff:
                changed.append(found)
            else:
                stats.unchanged += 1
        themes = themes_route({(v["type"], v["chain"], v["dataset"]) for v in new})
        by_date: dict = defaultdict(set)
        for v in new:
            by_date[v["date"]].add(v["account_id"])
        state = {
            (a, day): s for day, ids in by_date.items() for a, s in accounts_state(ids, day).items()
        }
        FeedbackItem.objects.bulk_create(
            [
                FeedbackItem(
                    **v,
                    theme=themes[(v["type"], v["chain"], v["dataset"])],
                    arr_at_log=arr,
                    tier_at_log=tier,
                    band_at_log=band,
                )
                for v in new
                for arr, tier, band in [state.get((v["account_id"], v["date"]), UNKNOWN)]
            ],
            batch_size=1000,
        )
        FeedbackItem.objects.bulk_update(changed, list(fields) or ["type"], batch_size=500)
        stats.created, stats.updated = len(new), len(changed)
        return stats
