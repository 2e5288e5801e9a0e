"""Demo data for the voice of the customer: `demo_voc_seed(today)`, called by seed_demo after the
live recompute.

- Behavioural items from the book's whole usage history (the recompute reads only its last
  days): the chains customers keep failing to query, Solana and TON among them, and the legacy
  price table some still ask for.
- Typed feedback through the `feedback` import: what CSMs heard in QBRs, tickets and Slack,
  tagged so it joins the behavioural themes (Solana, TON) or makes its own (data quality,
  freshness, schema, docs).
- Product's work, through the same services the pages use, by the demo's product user: Solana
  planned with a description, TON triaged, the legacy price table declined with its reason, and
  one frontier-chain theme shipped three weeks ago. Usage after the ship date tells its outcome
  (`shape_usage` writes it into the book's usage before the import, so a re-seed imports the
  same rows): the bigger half of its accounts by ARR stopped failing and started using the
  chain, the others still fail; all but one of the CSMs told their unblocked customers (the loop
  waits on the last task) and one of those accounts expanded on the chain.
- Idempotent: once any theme has a history, product's walk is not repeated.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Role, User
from cs_portal.imports import run_import
from expansion.models import Opportunity, OpportunityKind, Stage
from playbooks.models import Task, TaskStatus
from voc import services as voc
from voc.models import FeedbackItem, Theme, ThemeEvent

HISTORY_DAYS = 240  # the demo book's usage history
SHIPPED_DAYS_AGO = 21
LEGACY_DATASET = "common.prices.token_prices_hourly_easy"
DECLINED_REASON = (
    "Retired in 2024: common.prices.hourly has the same columns; the CSMs send the migration "
    "snippet."
)
SOLANA_DESCRIPTION = (
    "Solana DEX and NFT decoding for accounts on EVM-only plans: the most failed queries of the "
    "book and the biggest ARR at stake. Planned for next quarter."
)
# (tier, type, severity, title, chain, dataset, source, detail): given to the book's accounts
# of that tier in turn, so the same asks come from several accounts.
TYPED = (
    (
        1,
        "coverage_gap",
        "high",
        "Solana DEX trades decoded",
        "solana",
        "",
        "qbr",
        "Their Solana desk runs on a homegrown indexer; they want it gone by renewal.",
    ),
    (
        2,
        "coverage_gap",
        "medium",
        "Solana coverage for the wallet product",
        "solana",
        "",
        "slack",
        "",
    ),
    (
        1,
        "coverage_gap",
        "high",
        "TON jettons and wallets",
        "ton",
        "",
        "qbr",
        "The Telegram mini-app team is blocked; they query TON through a competitor.",
    ),
    (2, "coverage_gap", "medium", "TON in the explorer", "ton", "", "ticket", ""),
    (
        1,
        "data_quality",
        "critical",
        "Duplicate rows in Base DEX trades",
        "base",
        "base.dex.trades",
        "ticket",
        "Reconciliation against their ledger is off by 0.3 % on busy days.",
    ),
    (
        2,
        "data_quality",
        "high",
        "Base DEX trades double-count some swaps",
        "base",
        "base.dex.trades",
        "slack",
        "",
    ),
    (
        2,
        "freshness",
        "medium",
        "Arbitrum raw logs lag at peak",
        "arbitrum",
        "",
        "ticket",
        "Their alerting needs under 5 minutes; they see 20 at US open.",
    ),
    (
        1,
        "schema",
        "high",
        "Renamed columns broke their dbt models",
        "ethereum",
        "ethereum.raw.logs",
        "qbr",
        "They asked for a deprecation window and a migration note.",
    ),
    (3, "docs", "low", "How to join decoded logs to prices", "", "", "ticket", ""),
    (3, "feature", "medium", "Webhooks filtered by contract address", "", "", "slack", ""),
)


def _at(day: date, hour: int = 15) -> datetime:
    return timezone.make_aware(
        datetime.combine(day, time(hour, 0)), timezone.get_current_timezone()
    )


def demo_voc_seed(today: date, shipped: Shipped | None = None) -> Counter:
    """Load the behavioural history and typed feedback, then walk product's themes (shipping
    the one `shape_usage` prepared). Returns how many themes sit in each status."""
    as_of = today - timedelta(days=1)
    with transaction.atomic():
        voc.behavioral_items_update(as_of=as_of, account_ids=None, days=HISTORY_DAYS)
    _typed_feedback(today)
    if not ThemeEvent.objects.exists():
        product = User.objects.filter(role=Role.PRODUCT).order_by("pk").first()
        with transaction.atomic():
            _walk(today, product, shipped)
    return Counter(Theme.objects.filter(merged_into__isnull=True).values_list("status", flat=True))


def _typed_feedback(today: date) -> None:
    by_tier = {
        tier: list(
            Account.objects.filter(tier=tier, contracts__end__gte=today)
            .distinct()
            .order_by("external_id")
            .values_list("external_id", flat=True)
        )
        for tier in (1, 2, 3)
    }
    rows, used = [], Counter()
    for n, (tier, type_, severity, title, chain, dataset, source, detail) in enumerate(TYPED):
        accounts = by_tier[tier]
        if not accounts:
            continue
        for k in range(2 if tier < 3 else 3):  # each ask from a few accounts
            account = accounts[(used[tier] + k * 3) % len(accounts)]
            row = {
                "account": account,
                "date": (today - timedelta(days=5 + (n * 11 + k * 17) % 80)).isoformat(),
                "type": type_,
                "severity": severity,
                "title": title,
                "source": source,
            }
            for key, value in (("chain", chain), ("dataset", dataset), ("detail", detail)):
                if value:
                    row[key] = value
            rows.append(row)
        used[tier] += 1
    result = run_import("feedback", json_rows=rows, origin="cli", filename="seed_demo voc")
    if not result.ok:
        raise ValueError(f"demo feedback rejected: {[e.as_dict() for e in result.errors[:5]]}")


def _theme(grouping: str) -> Theme | None:
    return Theme.objects.filter(grouping=grouping, merged_into__isnull=True).first()


def _walk(today: date, product: User | None, shipped: Shipped | None) -> None:
    def move(theme: Theme, *steps: str, reason: str = "") -> None:
        for step in steps:
            voc.theme_status_change(theme=theme, to=step, by=product, reason=reason)

    if solana := _theme("coverage_gap|solana|"):
        move(solana, "triaged", "planned")
        voc.theme_edit(
            theme=solana,
            title="Solana DEX and NFT decoding",
            description=SOLANA_DESCRIPTION,
            by=product,
        )
    if ton := _theme("coverage_gap|ton|"):
        move(ton, "triaged")
    if quality := _theme("data_quality|base|base.dex.trades"):
        move(quality, "triaged", "in_progress")
    if legacy := _theme(f"coverage_gap||{LEGACY_DATASET}"):
        move(legacy, "triaged")
        move(legacy, "declined", reason=DECLINED_REASON)
    done = _ship_one(today, product, shipped)
    # Date the history back: the moves happened over the last weeks, not all now.
    for n, event in enumerate(ThemeEvent.objects.exclude(theme=done).order_by("id")):
        ThemeEvent.objects.filter(pk=event.pk).update(at=_at(today - timedelta(days=30 - n)))


class Shipped(NamedTuple):
    chain: str
    ship: date
    unblocked: tuple[str, ...]  # external ids


def shape_usage(book: dict, story: dict, today: date) -> Shipped | None:
    """Pick the frontier chain to ship (the one most accounts fail on, Solana and TON aside)
    and rewrite the book's usage rows (in place) so the bigger half of its accounts by ARR stop
    failing on it at the ship date and use it on weekdays since. A pure function of the book."""
    ship = today - timedelta(days=SHIPPED_DAYS_AGO)
    askers: dict[str, set[str]] = {}
    for r in story["usage"]:
        if r["metric"] == "failed_queries" and r.get("reason") == "chain_not_covered":
            chain = r.get("chain", "")
            if chain and chain not in ("solana", "ton"):
                askers.setdefault(chain, set()).add(r["account"])
    ranked = sorted(askers.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    if not ranked or len(ranked[0][1]) < 2:
        return None
    chain, accounts = ranked[0]
    iso = today.isoformat()
    arr = Counter()
    for c in book["contracts"]:
        if c["start"] <= iso <= c["end"]:
            arr[c["account"]] += int(c["arr"])
    order = sorted(accounts, key=lambda a: (-arr[a], a))
    unblocked = tuple(order[: max(1, len(order) // 2)])
    since = ship.isoformat()
    story["usage"] = [
        r
        for r in story["usage"]
        if not (
            r["account"] in unblocked
            and r["metric"] == "failed_queries"
            and r.get("chain") == chain
            and r["date"] >= since
        )
    ]
    for n, account in enumerate(unblocked):
        day = ship + timedelta(days=2 + n)
        while day < today:
            if day.weekday() < 5:
                story["usage"].append(
                    {
                        "account": account,
                        "date": day.isoformat(),
                        "metric": "queries",
                        "value": 40 + 10 * ((day.toordinal() + n) % 5),
                        "chain": chain,
                    }
                )
            day += timedelta(days=1)
    return Shipped(chain, ship, unblocked)


def _ship_one(today: date, product: User | None, shipped: Shipped | None) -> Theme | None:
    """Ship the theme of the chain `shape_usage` picked, three weeks ago; the CSMs told the
    unblocked accounts and one of them expanded on the chain."""
    theme = _theme(f"coverage_gap|{shipped.chain}|") if shipped else None
    if theme is None:
        return None
    for step in ("triaged", "planned", "in_progress", "shipped"):
        voc.theme_status_change(theme=theme, to=step, by=product)
    Theme.objects.filter(pk=theme.pk).update(shipped_on=shipped.ship)
    theme.refresh_from_db()
    for n, event in enumerate(ThemeEvent.objects.filter(theme=theme).order_by("id")):
        on_ship = event.to_status == "shipped" or event.kind == "loop"
        day = shipped.ship if on_ship else shipped.ship - timedelta(days=40 - n * 12)
        ThemeEvent.objects.filter(pk=event.pk).update(at=_at(day, 10 + n))
    unblocked = list(Account.objects.filter(external_id__in=shipped.unblocked))
    # Every CSM but one told their customer: the loop waits on that last task (and stays so
    # across re-seeds, which recompute and would close a loop with nothing left to do).
    told = list(
        theme.tells.filter(account__in=unblocked, task__isnull=False)
        .order_by("account__external_id")
        .values_list("task", flat=True)
    )
    Task.objects.filter(pk__in=told[:-1]).update(
        status=TaskStatus.DONE, completed_at=_at(shipped.ship + timedelta(days=4))
    )
    first = min(unblocked, key=lambda a: shipped.unblocked.index(a.external_id))
    arr = _arr(first, today)
    Opportunity.objects.create(
        account=first,
        kind=OpportunityKind.BREADTH,
        target=theme.chain,
        stage=Stage.WON,
        thesis=f"{theme.title} shipped: they moved their {theme.chain} work onto the platform.",
        evidence={"source": "demo history", "theme": theme.key},
        arr_potential=(arr * Decimal("0.15")).quantize(Decimal("1")),
        won_arr=(arr * Decimal("0.12")).quantize(Decimal("1")),
        owner=first.csm,
        ae=first.ae,
        evidence_as_of=shipped.ship + timedelta(days=9),
        stage_changed_at=_at(shipped.ship + timedelta(days=12)),
        closed_on=shipped.ship + timedelta(days=12),
        trigger_holds=False,
    )
    return theme


def _arr(account: Account, today: date) -> Decimal:
    return sum((c.arr for c in account.contracts.all() if c.start <= today <= c.end), Decimal(0))


def demo_voc_summary() -> str:
    statuses = Counter(
        Theme.objects.filter(merged_into__isnull=True).values_list("status", flat=True)
    )
    sources = Counter(FeedbackItem.objects.values_list("source", flat=True))
    return (
        f"{sum(statuses.values())} themes ("
        + ", ".join(f"{n} {s}" for s, n in statuses.most_common())
        + f"), {sum(sources.values())} items ("
        + ", ".join(f"{n} {s or 'untagged'}" for s, n in sources.most_common())
        + ")"
    )
