"""Which tier-3 accounts are due a nudge, and the nudges page's list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import QuerySet

from accounts.models import Account
from cs_portal.sql import columns
from health.models import HealthSnapshot, UsageFact
from health.usage_sql import usage_with_dims
from playbooks.alerts.rules import already_past
from playbooks.models import Nudge

from .rules import (
    CHAIN_NAMES,
    CROSS_CHAIN,
    CROSS_CHAIN_MIN_UNITS,
    CROSS_CHAIN_SHARE,
    CROSS_CHAIN_WINDOW,
    THRESHOLDS,
)


def _tier3_snapshots(as_of: date, account_ids: list[int] | None) -> list[tuple[int, dict, str]]:
    """(account id, the day's facts, the account's external id) of the scored tier-3 accounts."""
    qs = HealthSnapshot.objects.filter(date=as_of, account__tier=3)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return list(qs.values_list("account_id", "facts", "account__external_id"))


def _cross_chain_heavy(as_of: date, ids: list[int] | None) -> dict[int, dict]:
    """Tier-3 accounts in `ids` (None: every tier-3 account) that lean on one chain and never
    touched its siblings (one query per heavy chain over the usage facts; there is one heavy
    chain today)."""
    out: dict[int, dict] = {}
    a = columns(Account, "id", "tier")
    if ids is None:
        # The whole book: a subquery rather than an IN list of thousands of ids.
        scope, ids = f"SELECT {a.id} FROM {a.table} WHERE {a.tier} = 3", []
    elif not ids:
        return out
    else:
        scope = ", ".join(["%s"] * len(ids))
    start = as_of - timedelta(days=CROSS_CHAIN_WINDOW)
    u = columns(UsageFact, "account_id", "value", "metric", "date")
    facts = usage_with_dims("u")  # the facts with their chain
    for heavy, (target, siblings) in CROSS_CHAIN.items():
        # The window's units first (28 days of one metric: a small share of the facts), then
        # only for the accounts heavy enough, whether they ever touched a sibling chain.
        sql = f"""
            WITH window_units AS (
              SELECT {u.account_id} AS account_id,
                SUM(CASE WHEN u.chain <> '' THEN {u.value} ELSE 0 END) AS total,
                SUM(CASE WHEN u.chain = %s THEN {u.value} ELSE 0 END) AS on_heavy
              FROM {facts}
              WHERE {u.metric} = 'units' AND {u.date} > %s AND {u.date} <= %s
                AND {u.account_id} IN ({scope})
              GROUP BY {u.account_id}
            )
            SELECT w.account_id, w.total, w.on_heavy FROM window_units w
            WHERE w.on_heavy >= %s AND NOT EXISTS (
              SELECT 1 FROM {facts}
              WHERE u.{u.account_id} = w.account_id AND u.{u.date} <= %s
                AND u.{u.metric} <> 'failed_queries'
                AND u.chain IN ({", ".join(["%s"] * len(siblings))})
            )
        """
        params = [heavy, start, as_of, *ids, CROSS_CHAIN_MIN_UNITS, as_of, *siblings]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for account_id, total, on_heavy in cursor.fetchall():
                total, on_heavy = float(total or 0), float(on_heavy or 0)
                if total <= 0:
                    continue
                share = on_heavy / total
                if share >= CROSS_CHAIN_SHARE and account_id not in out:
                    out[account_id] = {
                        "chain": heavy,
                        "suggested_chain": target,
                        "share": round(share, 4),
                        "units_28": round(on_heavy, 1),
                        "window_days": CROSS_CHAIN_WINDOW,
                    }
    return out


def nudge_candidates(
    *, as_of: date, account_ids: list[int] | None = None, since_days: int = 1
) -> list[Nudge]:
    """Unsaved Nudge rows for every crossing on `as_of` (existing ones are filtered later).

    A throughput threshold is a crossing only if the snapshot `since_days` back (the one a
    catch-up compares with) had not reached it in the same period: a customer told about 70 %
    months late learns nothing."""
    rows = _tier3_snapshots(as_of, account_ids)
    if not rows:
        return []
    before = {
        account_id: fx
        for account_id, fx, _ in _tier3_snapshots(as_of - timedelta(days=since_days), account_ids)
    }
    facts = {account_id: fx for account_id, fx, _ in rows}
    names = {account_id: name for account_id, _, name in rows}
    out: list[Nudge] = []
    for account_id, fx in facts.items():
        fx = fx or {}
        share, period_start = fx.get("consumed_share"), fx.get("period_start")
        if share is None or not period_start:
            continue
        for threshold, kind in THRESHOLDS:
            if share >= threshold:
                if already_past(before.get(account_id), period_start, threshold):
                    break
                pct = int(threshold * 100)
                out.append(
                    Nudge(
                        account_id=account_id,
                        kind=kind,
                        key=f"{pct}:{period_start}",
                        message=(
                            f"You have used {share:.0%} of the throughput you committed to "
                            f"for this period (ends {fx.get('period_end')}). Top up or move "
                            "to a bigger commit to keep your pipelines running."
                        )[:300],
                        payload={
                            "threshold": threshold,
                            "consumed_share": share,
                            "consumed": fx.get("consumed"),
                            "commit": fx.get("commit"),
                            "period_start": period_start,
                            "period_end": fx.get("period_end"),
                        },
                    )
                )
                break
    leaning = _cross_chain_heavy(as_of, None if account_ids is None else list(facts))
    for account_id, hit in leaning.items():
        if account_id not in facts:
            continue  # a tier-3 account not scored that day (lapsed)
        heavy, target = CHAIN_NAMES[hit["chain"]], CHAIN_NAMES[hit["suggested_chain"]]
        out.append(
            Nudge(
                account_id=account_id,
                kind=Nudge.Kind.CROSS_CHAIN,
                key=f"{hit['chain']}>{hit['suggested_chain']}",
                message=(
                    f"You query {heavy} heavily ({hit['share']:.0%} of your units in the last "
                    f"{hit['window_days']} days). The same query runs on {target}: same "
                    "schema, same tables, change one word."
                ),
                payload=hit,
            )
        )
    for nudge in out:
        nudge.payload = {
            "account": names.get(nudge.account_id),
            "as_of": as_of.isoformat(),
            **nudge.payload,
        }
    return out


# ---------------------------------------------------------------------------------------------
# Reads for the nudges page


def nudges_list(*, kind: str = "", status: str = "") -> QuerySet[Nudge]:
    """Nudges newest first, optionally of one kind and delivery status."""
    qs = Nudge.objects.select_related("account").order_by("-created_at", "-id")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


NUDGES_PER_PAGE = 50


@dataclass
class NudgesPage:
    page: Page
    total: int  # every nudge, whatever the filters
    webhook_configured: bool


def nudges_page(*, kind: str = "", status: str = "", number: int = 1) -> NudgesPage:
    """One page of the nudges list (newest first, optionally filtered), with the total count
    and whether the product's webhook is configured."""
    page = Paginator(nudges_list(kind=kind, status=status), NUDGES_PER_PAGE).get_page(number)
    return NudgesPage(
        page=page,
        total=Nudge.objects.count(),
        webhook_configured=bool(settings.NUDGE_WEBHOOK_URL),
    )
