"""Data trust for the demo book (`manage.py seed_demo`): the dataset catalogue, a week of
freshness observations and an upcoming schema change, imported through `run_import` as a
customer's files and the platform's pushes would be.

What the demo shows (anchor = the book's "today"; everything is a pure function of it):
- a catalogue of real datasets (DOMAIN.md) with SLAs from the published freshness figures (EVM
  raw ~6-10 min → 15-20 min SLA, Solana ~20 → 30, Bitcoin ~30 → 45, enriched tables hourly → 90)
  and one daily table without an SLA;
- observations every two hours over the last 7 days, where `crosschain.dex.orderflow` is over
  its SLA on its last three (an open freshness incident capping the funds that use it at
  yellow), `bitcoin.raw.inputs` breached overnight five days ago and recovered, and
  `ethereum.raw.logs` had two slow readings in a row (not three: no incident);
- a schema change announced yesterday that takes effect in three weeks on
  `ethereum.raw.traces`, which exchanges and compliance desks query every day, and which a few
  digital-tier developers query in the explorer (their queries are imported here): tier 1-2
  accounts get heads-up tasks, tier 3 gets nudges. DOMAIN.md's real schema changes are all in
  the past for a book anchored today, so this one is made up in their style.

Like alerts, this is live telemetry: it loads only for a book anchored on the live day. A book
anchored in the past (a pinned `--today`) gets no observations, breaches or heads-ups, and the
telemetry of an earlier anchor is removed, so a re-anchored book never shows stale breaches.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from cs_portal.imports import ImportResult, run_import
from datatrust.models import Dataset, FreshnessObservation, HeadsUp
from demo import usage as health_demo
from health import events
from health.models import Incident, UsageFact
from health.services import last_complete_day

IMPORT_ORDER = ("datasets", "freshness", "usage", "incidents")
OBSERVATION_DAYS = 7
OBSERVATION_EVERY_HOURS = 2

# name, chains, SLA minutes (None: no SLA), typical lag range in minutes, description
CATALOGUE: tuple[tuple[str, str, int | None, tuple[float, float], str], ...] = (
    ("ethereum.raw.blocks", "ethereum", 15, (5, 10), "Blocks as mined, one row per block"),
    ("ethereum.raw.transactions", "ethereum", 15, (5, 10), "Every transaction with its receipt"),
    ("ethereum.raw.logs", "ethereum", 15, (6, 11), "Event logs, undecoded"),
    ("ethereum.raw.traces", "ethereum", 20, (7, 13), "Internal calls (call traces)"),
    ("ethereum.decoded.logs", "ethereum", 30, (11, 21), "Event logs decoded with known ABIs"),
    ("solana.raw.transactions", "solana", 30, (15, 24), "Solana transactions"),
    ("solana.raw.instructions", "solana", 30, (16, 25), "Solana instructions, inner ones too"),
    ("bitcoin.raw.inputs", "bitcoin", 45, (22, 38), "Bitcoin transaction inputs"),
    ("bitcoin.raw.outputs", "bitcoin", 45, (22, 38), "Bitcoin transaction outputs"),
    (
        "crosschain.assets.transfers",
        "ethereum;base;arbitrum;optimism;polygon;bsc;avalanche;tron;solana",
        30,
        (10, 22),
        "Token and native transfers across chains",
    ),
    (
        "crosschain.assets.native_token_transfers",
        "ethereum;base;arbitrum;optimism;polygon;bsc;avalanche",
        30,
        (10, 22),
        "Native-token transfers (ETH, MATIC, AVAX, BNB…)",
    ),
    (
        "crosschain.assets.fungible_balances_latest_evm",
        "ethereum;base;arbitrum;optimism;polygon;bsc;avalanche;zksync;linea",
        30,
        (12, 24),
        "Latest fungible balance per address and token on EVM chains",
    ),
    (
        "crosschain.dex.trades",
        "ethereum;base;arbitrum;optimism;polygon;bsc;solana",
        90,
        (35, 75),
        "DEX swaps, enriched hourly with USD amounts",
    ),
    (
        "crosschain.dex.orderflow",
        "ethereum;base;arbitrum",
        90,
        (35, 75),
        "DEX order flow by source (aggregator, bot, wallet), enriched hourly",
    ),
    (
        "crosschain.lending.metrics_daily",
        "ethereum;arbitrum;base;optimism",
        None,
        (300, 1300),
        "Daily lending-market metrics (supply, borrow, utilisation)",
    ),
    ("common.prices.hourly", "", 90, (30, 70), "Hourly USD prices per token"),
)

OPEN_BREACH = "crosschain.dex.orderflow"
RECOVERED_BREACH = "bitcoin.raw.inputs"
NEAR_MISS = "ethereum.raw.logs"

CHANGE_DATASET = "ethereum.raw.traces"
CHANGE_TITLE = "ethereum.raw.traces: trace_address becomes an array of integers"
CHANGE_NOTE = (
    "From the effective date trace_address is ARRAY<INTEGER> instead of a comma-separated "
    "string ('0,1,2' becomes [0,1,2]). Queries that filter or join on it must use the array "
    "form; the string stays available as trace_address_legacy for 30 days. Snowflake and "
    "BigQuery shares change on the same day."
)
CHANGE_LEAD_DAYS = 21
DIGITAL_EXPLORERS = 4  # tier-3 accounts on Ethereum that query the changing table

Write = Callable[[str], Any]


def is_live(today: date) -> bool:
    """Anchored on the live day: the book's yesterday is (about) the calendar's."""
    return today - timedelta(days=1) >= last_complete_day() - timedelta(days=1)


def change_key(today: date) -> str:
    return f"CHG-{today + timedelta(days=CHANGE_LEAD_DAYS):%Y-%m-%d}"


def catalogue_rows() -> list[dict]:
    return [
        {
            "dataset": name,
            "chains": chains,
            "freshness_sla_minutes": sla if sla is not None else "",
            "description": description,
        }
        for name, chains, sla, _, description in CATALOGUE
    ]


def _slots(today: date) -> list[datetime]:
    start = datetime.combine(today - timedelta(days=OBSERVATION_DAYS), time.min, UTC)
    count = OBSERVATION_DAYS * 24 // OBSERVATION_EVERY_HOURS
    return [start + timedelta(hours=OBSERVATION_EVERY_HOURS * n) for n in range(count)]


def _at(today: date, days_ago: int, hour: int) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(hour), UTC)


def _story_lags(today: date) -> dict[str, dict[datetime, float]]:
    """The observations that tell the stories, by dataset and time."""
    return {
        OPEN_BREACH: {
            _at(today, 1, 16): 82,
            _at(today, 1, 18): 131,
            _at(today, 1, 20): 178,
            _at(today, 1, 22): 236,
        },
        RECOVERED_BREACH: {
            _at(today, 6, 18): 40,
            _at(today, 6, 20): 71,
            _at(today, 6, 22): 96,
            _at(today, 5, 0): 128,
            _at(today, 5, 2): 104,
            _at(today, 5, 4): 63,
            _at(today, 5, 6): 33,
        },
        NEAR_MISS: {_at(today, 3, 10): 19, _at(today, 3, 12): 23, _at(today, 3, 14): 8},
    }


def observation_rows(today: date) -> list[dict]:
    stories = _story_lags(today)
    now = timezone.now()  # a book anchored ahead of the calendar has no future readings
    rows = []
    for name, _, _, (low, high), _ in CATALOGUE:
        rng = random.Random(f"{name}@{today.isoformat()}")
        for at in _slots(today):
            if at > now:
                break
            lag = stories.get(name, {}).get(at)
            if lag is None:
                lag = round(rng.uniform(low, high), 1)
            rows.append({"dataset": name, "observed_at": at.isoformat(), "lag_minutes": lag})
    return rows


def explorer_rows(today: date) -> list[dict]:
    """A few digital-tier developers on Ethereum query the changing table in the explorer, on
    the days of the last three weeks they were active (one read of the usage already loaded)."""
    since = today - timedelta(days=21)
    stories = set(health_demo.STORIES.values())
    active = (
        UsageFact.objects.filter(
            metric="units",
            chain="ethereum",
            account__tier=3,
            date__gte=since,
            date__lt=today,
            value__gt=0,
        )
        .exclude(account__external_id__in=stories)
        .values_list("account__external_id", "date")
        .distinct()
        .order_by("account__external_id", "date")
    )
    days: dict[str, list[date]] = {}
    for external_id, day in active:
        days.setdefault(external_id, []).append(day)
    chosen = sorted(e for e, d in days.items() if len(d) >= 5)[:DIGITAL_EXPLORERS]
    rows = []
    for external_id in chosen:
        rng = random.Random(f"{external_id}@{today.isoformat()}")
        for day in days[external_id]:
            rows.append(
                {
                    "account": external_id,
                    "date": day.isoformat(),
                    "metric": "queries",
                    "value": rng.randint(2, 25),
                    "product": "explorer",
                    "chain": "ethereum",
                    "dataset": CHANGE_DATASET,
                }
            )
    return rows


def change_rows(today: date) -> list[dict]:
    effective = today + timedelta(days=CHANGE_LEAD_DAYS)
    return [
        {
            "key": change_key(today),
            "kind": "schema_change",
            "severity": "medium",
            "started": (today - timedelta(days=1)).isoformat(),
            "datasets": CHANGE_DATASET,
            "chains": "ethereum",
            "title": CHANGE_TITLE,
            "effective": effective.isoformat(),
            "note": CHANGE_NOTE,
        }
    ]


@transaction.atomic
def drop_stale(today: date) -> int:
    """Remove the demo telemetry of another anchor (all of it when this one is not live):
    observations outside this anchor's week, auto incidents they opened, the demo's schema
    change under another key. Returns the rows deleted."""
    names = [name for name, *_ in CATALOGUE]
    observations = FreshnessObservation.objects.filter(dataset__name__in=names)
    incidents = Incident.objects.filter(auto=True, kind="freshness", datasets__isnull=False)
    change = Incident.objects.filter(kind="schema_change", title=CHANGE_TITLE)
    if is_live(today):
        slots = _slots(today)
        observations = observations.exclude(observed_at__gte=slots[0], observed_at__lte=slots[-1])
        incidents = incidents.exclude(opened_at__gte=slots[0], opened_at__lte=slots[-1])
        change = change.exclude(key=change_key(today))
    stale_incidents = [i.pk for i in incidents if set(i.datasets) <= set(names)]
    deleted = observations.delete()[0]
    deleted += Incident.objects.filter(pk__in=stale_incidents).delete()[0]
    deleted += change.delete()[0]
    return deleted


def demo_load(today: date, *, label: str, write: Write) -> bool:
    """Import the demo's data-trust files for a live anchor; True if anything was written.
    Call after usage is loaded (the explorer queries sit on the days accounts were active)."""
    dropped = drop_stale(today)
    if dropped:
        write(f"  {'datatrust':<12} removed {dropped} rows of an earlier anchor's telemetry")
    if not is_live(today):
        write(f"  {'datatrust':<12} none: the book is anchored in the past")
        return bool(dropped)
    changed = bool(dropped)
    files = {
        "datasets": catalogue_rows(),
        "freshness": observation_rows(today),
        "usage": explorer_rows(today),
        "incidents": change_rows(today),
    }
    for kind in IMPORT_ORDER:
        rows = files[kind]
        if not rows:
            continue
        result: ImportResult = run_import(kind, json_rows=rows, origin="cli", filename=label)
        if not result.ok:
            first = "; ".join(f"row {e.row} [{e.column}]: {e.message}" for e in result.errors[:5])
            raise CommandError(f"demo {kind} import rejected: {first}")
        stats = result.stats
        changed = changed or bool(stats.created or stats.updated)
        write(
            f"  {kind:<12} {result.rows:>6} rows: {stats.created} new, {stats.updated} updated, "
            f"{stats.unchanged} unchanged ({result.seconds:.2f} s)"
        )
    return changed


def demo_announce(today: date, *, write: Write) -> None:
    """After a seed that loaded with announcements paused: send the schema change's heads-ups
    (those already sent are not sent again)."""
    if not is_live(today):
        return

    key = change_key(today)
    before = HeadsUp.objects.filter(incident__key=key).count()
    with transaction.atomic():
        events.announce_incidents(keys=[key])
    heads_ups = HeadsUp.objects.filter(incident__key=key)
    write(
        f"  {'heads-ups':<12} {heads_ups.count() - before} new for {key} "
        f"({heads_ups.filter(task__isnull=False).count()} tasks, "
        f"{heads_ups.filter(nudge__isnull=False).count()} nudges in all); "
        f"{Dataset.objects.count()} datasets in the catalogue"
    )
