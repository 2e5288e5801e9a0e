"""Success plans, onboarding milestones and time to value (TTV).

Milestone plans by tier (days after the start of the first contract):

| milestone                   | tier 1 | tier 2 | tier 3 | when                              |
|-----------------------------|--------|--------|--------|-----------------------------------|
| value_defined               |   7    |   14   |   –    | a human agrees the outcomes       |
| access_provisioned          |  10    |   14   |   3    | credentials / shares / topics     |
| first_query                 |  14    |   21   |   7    | explorer/credits plans; tier 1-2  |
| first_api_call              |  21    |   30   |  14    | developer/datastreams plans       |
| first_stream_event          |  21    |   30   |  21    | datastreams plans                 |
| first_production_pipeline   |  30    |   60   |  45    | data lands in their warehouse/app |
| first_dependent_consumer    |  45    |   90   |  90    | someone depends on that data      |

Tier 1 moves fastest because a named CSM and SE run the onboarding; tier 2 is pooled, so the
dates are looser; tier 3 is digital: nobody holds a value conversation (so no value_defined),
access is self-serve and the product's own messaging carries the rest. The product milestones
follow the plan the account bought: SQL in the browser (explorer, legacy credits) is proved by a
first query, the developer APIs by a first API call, datastreams by an API call and a first
stream event. Tier 1-2 onboarding also starts with guided SQL exploration with the SE/CSM, so
they get first_query whatever the plan; a digital-tier developer may never open the SQL editor.

Only first_query, first_api_call and first_stream_event can be proved by usage; they complete
themselves (`milestones_complete_from_usage`, run by every recompute). The others are ticked by
the CSM, with evidence.

Time to value: DESIGN.md defines it as "days from contract start to the first production use:
data flowing into their system with someone depending on it". A production pipeline alone is
data flowing with nobody depending on it yet, so TTV ends when `first_dependent_consumer`
completes, and it starts on the first contract's start (onboarding happens once; a renewal does
not restart the clock).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery

from accounts.models import Account, Contract, Plan, User
from accounts.permissions import can_edit_account
from cs_portal import clock
from cs_portal.params import whole_number

from .models import Milestone, MilestoneKey, SuccessPlan

# ---------------------------------------------------------------------------------------------
# Milestone plans

MILESTONE_OFFSETS: dict[int, dict[str, int]] = {
    1: {
        "value_defined": 7,
        "access_provisioned": 10,
        "first_query": 14,
        "first_api_call": 21,
        "first_stream_event": 21,
        "first_production_pipeline": 30,
        "first_dependent_consumer": 45,
    },
    2: {
        "value_defined": 14,
        "access_provisioned": 14,
        "first_query": 21,
        "first_api_call": 30,
        "first_stream_event": 30,
        "first_production_pipeline": 60,
        "first_dependent_consumer": 90,
    },
    3: {
        "access_provisioned": 3,
        "first_query": 7,
        "first_api_call": 14,
        "first_stream_event": 21,
        "first_production_pipeline": 45,
        "first_dependent_consumer": 90,
    },
}
# Which plan makes which product milestone meaningful (an explorer customer never calls the API).
PLAN_MILESTONES: dict[str, set[str]] = {
    Plan.EXPLORER: {MilestoneKey.FIRST_QUERY},
    Plan.CREDITS: {MilestoneKey.FIRST_QUERY},
    Plan.DEVELOPER: {MilestoneKey.FIRST_API_CALL},
    Plan.DATASTREAMS: {MilestoneKey.FIRST_API_CALL, MilestoneKey.FIRST_STREAM_EVENT},
}
PRODUCT_MILESTONES = {
    MilestoneKey.FIRST_QUERY,
    MilestoneKey.FIRST_API_CALL,
    MilestoneKey.FIRST_STREAM_EVENT,
}
GUIDED_TIERS = (1, 2)  # an SE/CSM walks them through SQL first: first_query on every plan
# The milestones usage can prove, and the metric that proves each.
USAGE_PROOF: dict[str, str] = {
    MilestoneKey.FIRST_QUERY: "queries",
    MilestoneKey.FIRST_API_CALL: "api_calls",
    MilestoneKey.FIRST_STREAM_EVENT: "stream_events",
}
METRIC_WORDS = {"queries": "queries", "api_calls": "API calls", "stream_events": "stream events"}
TTV_MILESTONE = MilestoneKey.FIRST_DEPENDENT_CONSUMER


def milestone_keys_for(*, tier: int, plan: str | None) -> list[str]:
    """The milestone keys a new account of this tier and plan onboards through, in order."""
    wanted = set(PLAN_MILESTONES.get(plan or "", {MilestoneKey.FIRST_QUERY}))
    if tier in GUIDED_TIERS:
        wanted.add(MilestoneKey.FIRST_QUERY)
    return [
        key for key in MILESTONE_OFFSETS[tier] if key not in PRODUCT_MILESTONES or key in wanted
    ]


def _plan_on(account: Account, start: date) -> str | None:
    contract = (
        Contract.objects.filter(account=account, start__lte=start, end__gte=start)
        .order_by("-start")
        .first()
        or Contract.objects.filter(account=account).order_by("-start").first()
    )
    return contract.plan if contract else None


def milestones_plan(*, account: Account, start: date, plan: str | None = None) -> list[Milestone]:
    """Create the standard onboarding milestones of the account's tier, due relative to `start`.

    Idempotent: milestones the account already has keep their due dates and completion. `plan`
    defaults to the plan of the contract running on `start` (it decides the product milestones).
    Returns all of the account's milestones, in due order.
    """
    if account.tier not in MILESTONE_OFFSETS:
        raise ValidationError({"tier": f"No milestone plan for tier {account.tier}."})
    plan = plan or _plan_on(account, start)
    offsets = MILESTONE_OFFSETS[account.tier]
    Milestone.objects.bulk_create(
        [
            Milestone(account=account, key=key, due=start + timedelta(days=offsets[key]))
            for key in milestone_keys_for(tier=account.tier, plan=plan)
        ],
        ignore_conflicts=True,
    )
    return list(account.milestones.order_by("due", "id"))


def milestone_complete(
    *, milestone: Milestone, user: User, on: date | None = None, evidence: str = ""
) -> Milestone:
    """Tick a milestone by hand (CSM owner or manager). Completing it twice changes nothing."""
    if not can_edit_account(user, milestone.account):
        raise PermissionDenied("Only the account's CSM or a manager can complete milestones.")
    if milestone.completed_on is not None:
        return milestone
    on = on or clock.today()
    errors = {}
    if on > clock.today():
        errors["on"] = "A milestone cannot be completed in the future."
    evidence = evidence.strip()
    if len(evidence) > 200:
        errors["evidence"] = "Keep the evidence under 200 characters."
    if errors:
        raise ValidationError(errors)
    evidence = evidence or f"Marked complete by {user.display_name}"
    # Conditional update: two clicks racing complete it once, with the first one's evidence.
    updated = Milestone.objects.filter(pk=milestone.pk, completed_on__isnull=True).update(
        completed_on=on, evidence=evidence
    )
    milestone.refresh_from_db()
    if updated:
        milestone.completed_on, milestone.evidence = on, evidence
    return milestone


def milestones_complete_from_usage(*, as_of: date, account_ids: list[int] | None = None) -> int:
    """Complete the open milestones usage can prove, dated the first day the usage shows it.

    One query over the usage facts of the accounts in scope that still have such a milestone
    open (first day with queries / API calls / stream events > 0, up to `as_of`, with that day's
    total), one read of the open milestones and one bulk update. Returns how many completed.
    """
    open_qs = Milestone.objects.filter(completed_on__isnull=True, key__in=list(USAGE_PROOF))
    if account_ids is not None:
        if not account_ids:
            return 0
        open_qs = open_qs.filter(account_id__in=account_ids)
    scope, params = "", [as_of]
    if account_ids is not None:
        scope = f" AND account_id IN ({', '.join(['%s'] * len(account_ids))})"
        params += list(account_ids)
    metrics = ", ".join(f"'{m}'" for m in USAGE_PROOF.values())
    keys = ", ".join(f"'{k}'" for k in USAGE_PROOF)
    sql = f"""
        WITH firsts AS (
          SELECT account_id, metric, MIN(date) AS first_day
          FROM health_usagefact
          WHERE metric IN ({metrics}) AND value > 0 AND date <= %s{scope}
            AND account_id IN (SELECT account_id FROM playbooks_milestone
                               WHERE completed_on IS NULL AND key IN ({keys}))
          GROUP BY account_id, metric
        )
        SELECT f.account_id, f.metric, f.first_day, SUM(u.value)
        FROM firsts f
        JOIN health_usagefact u ON u.account_id = f.account_id AND u.metric = f.metric
          AND u.date = f.first_day
        GROUP BY f.account_id, f.metric, f.first_day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        firsts = {(row[0], row[1]): (_as_date(row[2]), row[3]) for row in cursor.fetchall()}
    if not firsts:
        return 0
    done = []
    for milestone in open_qs.filter(account_id__in={a for a, _ in firsts}).only(
        "id", "account_id", "key"
    ):
        metric = USAGE_PROOF[milestone.key]
        hit = firsts.get((milestone.account_id, metric))
        if hit is None:
            continue
        day, value = hit
        milestone.completed_on = day
        milestone.evidence = (
            f"Usage: {value:,.0f} {METRIC_WORDS[metric]} on {day.isoformat()} (first day with any)"
        )[:200]
        done.append(milestone)
    Milestone.objects.bulk_update(done, ["completed_on", "evidence"], batch_size=500)
    return len(done)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------------------------------------
# Success plans

CURRENCIES = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "CHF": "CHF ",
    "SGD": "S$",
    "JPY": "¥",
    "AUD": "A$",
    "CAD": "C$",
    "HKD": "HK$",
    "AED": "AED ",
}
SUCCESS_FIELDS = (
    "outcomes",
    "currency",
    "ftes_saved",
    "infra_avoided_per_year",
    "time_to_market_days",
    "targets",
    "status",
)


def _decimal(raw, *, field: str, errors: dict, places: int, maximum: Decimal) -> Decimal | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        errors[field] = f"'{raw}' is not a number."
        return None
    if not value.is_finite() or value < 0:
        errors[field] = "Give a number of zero or more."
        return None
    if value >= maximum:
        errors[field] = f"That is more than this field can hold (under {maximum:,})."
        return None
    return value.quantize(Decimal(1).scaleb(-places))


def success_plan_validate(*, data: dict) -> dict:
    """Clean the raw values of a success plan; raises ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    outcomes = "\n".join(
        line.strip() for line in str(data.get("outcomes") or "").splitlines() if line.strip()
    )
    if not outcomes:
        errors["outcomes"] = "Write at least one outcome the customer wants (one per line)."
    currency = str(data.get("currency") or "USD").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        errors["currency"] = "Use a three-letter ISO currency code such as USD, EUR or GBP."
    ftes = _decimal(
        data.get("ftes_saved"),
        field="ftes_saved",
        errors=errors,
        places=1,
        maximum=Decimal("100000"),
    )
    infra = _decimal(
        data.get("infra_avoided_per_year"),
        field="infra_avoided_per_year",
        errors=errors,
        places=2,
        maximum=Decimal("1000000000000"),
    )
    ttm = None
    raw_ttm = str(data.get("time_to_market_days") or "").strip()
    if raw_ttm:
        ttm = whole_number(raw_ttm)
        if ttm is None or ttm > 3650:
            errors["time_to_market_days"] = "Give whole days between 0 and 3650."
            ttm = None
    status = str(data.get("status") or SuccessPlan.Status.DRAFT)
    if status not in SuccessPlan.Status.values:
        errors["status"] = "Choose draft, on track, at risk or achieved."
    targets = str(data.get("targets") or "").strip()
    if len(outcomes) > 4000 or len(targets) > 4000:
        errors.setdefault("outcomes", "Keep outcomes and targets under 4,000 characters each.")
    if errors:
        raise ValidationError(errors)
    return {
        "outcomes": outcomes,
        "currency": currency,
        "ftes_saved": ftes,
        "infra_avoided_per_year": infra,
        "time_to_market_days": ttm,
        "targets": targets,
        "status": status,
    }


@transaction.atomic
def success_plan_save(*, account: Account, user: User, data: dict) -> SuccessPlan:
    """Create or update the account's success plan (CSM owner or manager), validated."""
    if not can_edit_account(user, account):
        raise PermissionDenied("Only the account's CSM or a manager can edit its success plan.")
    values = success_plan_validate(data=data)
    plan, _ = SuccessPlan.objects.update_or_create(account=account, defaults=values)
    return plan


# ---------------------------------------------------------------------------------------------
# Reads: the Success tab, time to value


@dataclass
class MilestoneRow:
    milestone: Milestone
    label: str
    provable: bool
    overdue: bool
    days_late: int  # overdue: days past due; completed: days after due (negative = early)


def account_milestones(*, account: Account, today: date) -> list[MilestoneRow]:
    """The account's milestones in due order, with overdue flags."""
    rows = []
    for m in account.milestones.order_by("due", "id"):
        late = (m.completed_on or today) - m.due
        rows.append(
            MilestoneRow(
                m,
                m.get_key_display(),
                m.key in USAGE_PROOF,
                m.completed_on is None and m.due < today,
                late.days,
            )
        )
    return rows


def _first_start() -> Subquery:
    return Subquery(
        Contract.objects.filter(account=OuterRef("pk")).order_by("start").values("start")[:1]
    )


def _ttv_done() -> Subquery:
    return Subquery(
        Milestone.objects.filter(account=OuterRef("pk"), key=TTV_MILESTONE).values("completed_on")[
            :1
        ]
    )


def accounts_with_ttv(qs: QuerySet[Account] | None = None) -> QuerySet[Account]:
    """Accounts annotated with `first_start` (first contract) and `value_on` (the day the first
    dependent consumer went live, or None)."""
    qs = Account.objects.all() if qs is None else qs
    return qs.annotate(first_start=_first_start(), value_on=_ttv_done())


@dataclass
class TimeToValue:
    start: date | None
    value_on: date | None
    days: int | None  # None until value is reached
    days_so_far: int | None  # onboarding, not there yet: days since start


def ttv_of(*, start: date | None, value_on: date | None, today: date) -> TimeToValue:
    if start is None:
        return TimeToValue(None, value_on, None, None)
    if value_on is not None:
        return TimeToValue(start, value_on, max((value_on - start).days, 0), None)
    return TimeToValue(start, None, None, max((today - start).days, 0))


def account_ttv(*, account: Account, today: date) -> TimeToValue:
    row = (
        accounts_with_ttv(Account.objects.filter(pk=account.pk))
        .values("first_start", "value_on")
        .first()
        or {}
    )
    return ttv_of(
        start=_opt_date(row.get("first_start")),
        value_on=_opt_date(row.get("value_on")),
        today=today,
    )


def _opt_date(value) -> date | None:
    return None if value is None else _as_date(value)


@dataclass
class TierTTV:
    tier: int
    median_days: float | None
    reached: int
    onboarding: int  # accounts with milestones that have not reached value yet


def ttv_median_by_tier() -> list[TierTTV]:
    """Median time to value per (current) tier over the accounts that reached it, and how many
    are still on the way. One query; the median is taken in Python (SQLite has none)."""
    rows = accounts_with_ttv(Account.objects.filter(milestones__key=TTV_MILESTONE)).values_list(
        "tier", "first_start", "value_on"
    )
    days: dict[int, list[int]] = {1: [], 2: [], 3: []}
    waiting = {1: 0, 2: 0, 3: 0}
    for tier, start, value_on in rows:
        if start is None:
            continue
        if value_on is None:
            waiting[tier] += 1
        else:
            days[tier].append(max((_as_date(value_on) - _as_date(start)).days, 0))
    return [
        TierTTV(t, statistics.median(days[t]) if days[t] else None, len(days[t]), waiting[t])
        for t in (1, 2, 3)
    ]


def first_contract_start(*, account: Account) -> date | None:
    return Contract.objects.filter(account=account).aggregate(first=Min("start"))["first"]


@dataclass
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        symbol = CURRENCIES.get(self.currency)
        whole = f"{self.amount:,.0f}"
        return f"{symbol}{whole}" if symbol else f"{whole} {self.currency}"


def roi_baseline(plan: SuccessPlan | None) -> list[tuple[str, str]]:
    """The ROI baseline in the customer's currency, as label/value lines for the page."""
    if plan is None:
        return []
    lines = []
    if plan.ftes_saved is not None:
        lines.append(("FTEs saved", f"{plan.ftes_saved.normalize():f} FTE"))
    if plan.infra_avoided_per_year is not None:
        lines.append(
            (
                "Nodes / indexers / infra avoided",
                f"{Money(plan.infra_avoided_per_year, plan.currency)} per year",
            )
        )
    if plan.time_to_market_days is not None:
        lines.append(("Time to market", f"{plan.time_to_market_days} days faster"))
    return lines


def onboarding_inputs(as_of: date, account_ids: list[int] | None) -> dict[int, dict]:
    """The onboarding signal's inputs, provided to health (`health.events.on_inputs`): per
    account, the milestones due by `as_of` and how many of them were done by their due date.
    One aggregate query for the scope."""
    qs = Milestone.objects.filter(due__lte=as_of)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    rows = (
        qs.values("account_id")
        .annotate(
            due_count=Count("id"),
            on_time=Count("id", filter=Q(completed_on__isnull=False, completed_on__lte=F("due"))),
        )
        .values_list("account_id", "due_count", "on_time")
    )
    return {
        account_id: {"milestones_due": due, "milestones_on_time": on_time}
        for account_id, due, on_time in rows
    }
