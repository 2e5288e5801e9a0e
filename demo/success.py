"""Demo data for success plans and onboarding: `demo_success_seed(today)`, called by seed_demo
after the book and its usage are in and before the final recompute.

- Success plans for every tier-1 and tier-2 account: outcomes drawn from what the account's
  archetype uses the data for, on its chains and delivery channel, with an ROI baseline (FTEs
  saved, nodes/indexers avoided per year, time to market) in the customer's currency. Story
  accounts in trouble (coasting, silent decay, sharp drop, champion left) are at risk; new
  accounts are drafts.
- Onboarding milestones for every account, by tier, due from the first contract's start. Before
  the usage history begins (180 days) everything is complete from the onboarding record; after
  it, the milestones usage proves are left open for the recompute to complete from the real
  first query / API call / stream event, and the rest are ticked on a date that varies per
  account (so TTV varies). Two recent tier-2 accounts are behind: one has not defined value with
  the customer, the other has no production pipeline a month after it was due. The recompute
  turns those into onboarding_overdue alerts.

Pure and deterministic for a given `today` (per-account generators seeded from the name), and
idempotent: re-running creates nothing that exists (unique constraints, ignore_conflicts).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery

from accounts.models import Account, Contract
from demo import book as book_demo
from demo import usage as health_demo
from playbooks.models import Milestone, MilestoneKey, SuccessPlan
from playbooks.success.rules import MILESTONE_OFFSETS, USAGE_PROOF, milestone_keys_for

SEED = book_demo.SEED
CURRENCY_WEIGHTS = (("USD", 55), ("EUR", 18), ("GBP", 12), ("CHF", 5), ("SGD", 6), ("AED", 4))
# Rough local-currency units per USD, so an ROI baseline is a plausible number in EUR or SGD.
PER_USD = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CHF": 0.88, "SGD": 1.34, "AED": 3.67}
CHANNEL_LABELS = {
    "snowflake": "their Snowflake account",
    "bigquery": "BigQuery",
    "databricks": "Databricks",
    "kafka": "their Kafka cluster",
    "api": "their backend",
}
FEEDS = {
    "snowflake": "Snowflake share",
    "bigquery": "BigQuery dataset",
    "databricks": "Delta share",
    "kafka": "Kafka topics",
    "api": "API feed",
}
ACCESS_EVIDENCE = {
    "snowflake": "Snowflake data share provisioned",
    "bigquery": "BigQuery dataset shared with their project",
    "databricks": "Delta Sharing recipient set up",
    "kafka": "Kafka topics and credentials provisioned",
    "api": "API keys issued",
}
AT_RISK_STORIES = ("coasting", "silent_decay", "sharp_drop", "champion_left")
# How late tier-2 onboarding may run before we make it a demo story (days past due).
OVERDUE_WINDOW = (5, 45)
OVERDUE_KEYS = (MilestoneKey.FIRST_PRODUCTION_PIPELINE, MilestoneKey.VALUE_DEFINED)
LATER_STEPS = (MilestoneKey.FIRST_PRODUCTION_PIPELINE, MilestoneKey.FIRST_DEPENDENT_CONSUMER)
PACE = {1: (0.6, 1.3), 2: (0.6, 1.5), 3: (0.4, 1.8)}  # completion day ÷ due offset


def _chains(chains: list[str], n: int = 3) -> str:
    names = [book_demo.chain_label(c) for c in chains[:n]]
    if len(names) <= 1:
        return "".join(names) or "EVM"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _node_kind(chains: list[str]) -> str:
    if "bitcoin" in chains[:2]:
        return "Bitcoin and Ethereum archive nodes"
    if "solana" in chains[:2]:
        return "Solana RPC fleet and in-house indexer"
    return f"self-hosted {book_demo.chain_label(chains[0]) if chains else 'EVM'} indexer"


def _money(value: float, currency: str, step: int = 5000) -> Decimal:
    local = value * PER_USD[currency]
    return Decimal(max(step, int(round(local / step)) * step))


def _success_plan(
    plan: book_demo.Draft, account: Account, start: date, today: date, story: str | None
) -> SuccessPlan:
    rng = random.Random(f"{SEED}:{plan.name}:success")
    currency = book_demo.weighted(rng, CURRENCY_WEIGHTS)
    uses = plan.kind.uses
    where = CHANNEL_LABELS.get(plan.channel, plan.channel)
    chains = plan.chains or list(plan.kind.chains[:2])
    big = account.tier == 1
    ftes = Decimal(str(round(rng.uniform(2.0, 6.0) if big else rng.uniform(0.5, 2.5), 1)))
    infra_usd = rng.uniform(150_000, 900_000) if big else rng.uniform(25_000, 180_000)
    infra = _money(infra_usd, currency, 10_000 if big else 5_000)
    ttm = rng.choice((45, 60, 90, 120, 150) if big else (30, 45, 60, 90))
    outcomes = [
        f"{uses[0].capitalize()} on decoded {_chains(chains)} data, delivered into {where}",
        f"Switch off the {_node_kind(chains)} the data team runs today",
    ]
    if len(uses) > 1:
        outcomes.append(f"{uses[1].capitalize()} live {ttm} days sooner than an in-house build")
    if big and len(uses) > 2:
        outcomes.append(f"{uses[2].capitalize()} for a second team on the same pipeline")
    quarter = (today.month - 1) // 3 + 1
    next_q = f"Q{quarter % 4 + 1} {today.year + (1 if quarter == 4 else 0)}"
    teams = rng.randint(2, 5) if big else rng.randint(1, 3)
    targets = [
        f"Indexer and nodes decommissioned by the end of {next_q}",
        f"{teams} team{'s' if teams > 1 else ''} reading the {FEEDS[plan.channel]} by the next QBR",
    ]
    if story in AT_RISK_STORIES:
        status = SuccessPlan.Status.AT_RISK
    elif (today - start).days < 60:
        status = SuccessPlan.Status.DRAFT
    elif (today - start).days > 900 and rng.random() < 0.35:
        status = SuccessPlan.Status.ACHIEVED
    else:
        status = SuccessPlan.Status.ON_TRACK
    return SuccessPlan(
        account=account,
        outcomes="\n".join(outcomes),
        currency=currency,
        ftes_saved=ftes,
        infra_avoided_per_year=infra,
        time_to_market_days=ttm,
        targets="\n".join(targets),
        status=status,
    )


EVIDENCE = {
    MilestoneKey.VALUE_DEFINED: "Kickoff: outcomes and ROI baseline agreed with the champion",
    MilestoneKey.ACCESS_PROVISIONED: "{access}",
    MilestoneKey.FIRST_PRODUCTION_PIPELINE: "Production pipeline feeding {where} on schedule",
    MilestoneKey.FIRST_DEPENDENT_CONSUMER: "{use} runs on the feed in production",
}


def _milestones(
    plan: book_demo.Draft | None,
    account: Account,
    start: date,
    first_plan: str,
    today: date,
    history_from: date,
    behind: dict[int, str],
) -> list[Milestone]:
    rng = random.Random(f"{SEED}:{account.name}:milestones")
    pace = rng.uniform(*PACE[account.tier])
    where = CHANNEL_LABELS.get(plan.channel, "their stack") if plan else "their stack"
    use = (plan.kind.uses[0] if plan else "their product").capitalize()
    access = ACCESS_EVIDENCE.get(plan.channel if plan else "api", "Access provisioned")
    # Access comes first (on day one when the usage history covers the start: usage begins
    # then), then the first product use, then the rest at the account's pace.
    covered = start >= history_from
    access_day = start if covered else start + timedelta(days=max(1, round(3 * pace)))
    offsets = MILESTONE_OFFSETS[account.tier]
    out = []
    keys = milestone_keys_for(tier=account.tier, plan=first_plan)
    stuck: set[str] = set()
    if account.pk in behind:  # behind on this one, and so on the production steps after it
        at = keys.index(behind[account.pk])
        stuck = {behind[account.pk]} | {k for k in keys[at:] if k in LATER_STEPS}
    for key in keys:
        due = start + timedelta(days=offsets[key])
        m = Milestone(account=account, key=key, due=due)
        if key in USAGE_PROOF:
            if not covered:  # onboarded before the usage we hold: from the record
                m.completed_on = min(
                    access_day + timedelta(days=max(1, round(offsets[key] * pace * 0.5))),
                    history_from - timedelta(days=1),
                )
                m.evidence = "From the onboarding record (before the usage history begins)"
            out.append(m)  # otherwise open: the recompute completes it from usage
            continue
        if key in stuck:
            out.append(m)
            continue
        done = start + timedelta(days=max(1, round(offsets[key] * pace)))
        if key == MilestoneKey.ACCESS_PROVISIONED:
            done = access_day
        if done >= today and due < today:
            done = max(start, min(due, today - timedelta(days=1)))  # no stray overdue ones
        if done < today:
            m.completed_on = done
            m.evidence = EVIDENCE[key].format(where=where, use=use, access=access)[:200]
        out.append(m)
    return out


def _behind(rows: list[tuple[Account, date, str]], today: date) -> dict[int, str]:
    """Up to two recent tier-2 accounts to run behind: per key in OVERDUE_KEYS, the most recent
    account whose milestone fell due 5-45 days ago."""
    chosen: dict[int, str] = {}
    low, high = OVERDUE_WINDOW
    for key in OVERDUE_KEYS:
        for account, start, _ in sorted(rows, key=lambda r: (r[1], r[0].external_id), reverse=True):
            if account.tier != 2 or account.pk in chosen:
                continue
            due = start + timedelta(days=MILESTONE_OFFSETS[2][key])
            if low <= (today - due).days <= high:
                chosen[account.pk] = key
                break
    return chosen


@transaction.atomic
def demo_success_seed(today: date) -> dict[str, int]:
    """Success plans for tier 1-2 and onboarding milestones for every demo account (see the
    module docstring). Returns counts of what was created."""
    plans = {p.external_id: p for p in book_demo.build_plans(today, SEED)}
    stories = {
        ext: key for key, ext in health_demo.pick_stories(list(plans.values()), today).items()
    }
    first = Contract.objects.filter(account=OuterRef("pk")).order_by("start")
    accounts = list(
        Account.objects.filter(external_id__in=list(plans))
        .annotate(
            first_start=Subquery(first.values("start")[:1]),
            first_plan=Subquery(first.values("plan")[:1]),
        )
        .order_by("external_id")
    )
    rows = [(a, a.first_start, a.first_plan) for a in accounts if a.first_start is not None]
    history_from = today - timedelta(days=health_demo.HISTORY_DAYS)
    behind = _behind(rows, today)
    milestones, success_plans = [], []
    for account, start, first_plan in rows:
        plan = plans.get(account.external_id)
        milestones += _milestones(plan, account, start, first_plan, today, history_from, behind)
        if account.tier in (1, 2) and plan is not None:
            success_plans.append(
                _success_plan(plan, account, start, today, stories.get(account.external_id))
            )
    before_m = Milestone.objects.filter(account__in=accounts).count()
    before_p = SuccessPlan.objects.filter(account__in=accounts).count()
    Milestone.objects.bulk_create(milestones, batch_size=1000, ignore_conflicts=True)
    SuccessPlan.objects.bulk_create(success_plans, batch_size=500, ignore_conflicts=True)
    return {
        "milestones": Milestone.objects.filter(account__in=accounts).count() - before_m,
        "success_plans": SuccessPlan.objects.filter(account__in=accounts).count() - before_p,
        "behind": len(behind),
    }
