"""Reads behind the Success tab: milestones, time to value, TTV medians."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery

from accounts.models import Account, Contract
from playbooks.models import Milestone, SuccessPlan

from .rules import TTV_MILESTONE, USAGE_PROOF, TimeToValue, as_date, optional_date, ttv_of


def plan_on(account: Account, start: date) -> str | None:
    contract = (
        Contract.objects.filter(account=account, start__lte=start, end__gte=start)
        .order_by("-start")
        .first()
        or Contract.objects.filter(account=account).order_by("-start").first()
    )
    return contract.plan if contract else None


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


def account_ttv(*, account: Account, today: date) -> TimeToValue:
    row = (
        accounts_with_ttv(Account.objects.filter(pk=account.pk))
        .values("first_start", "value_on")
        .first()
        or {}
    )
    return ttv_of(
        start=optional_date(row.get("first_start")),
        value_on=optional_date(row.get("value_on")),
        today=today,
    )


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
            days[tier].append(max((as_date(value_on) - as_date(start)).days, 0))
    return [
        TierTTV(t, statistics.median(days[t]) if days[t] else None, len(days[t]), waiting[t])
        for t in (1, 2, 3)
    ]


def first_contract_start(*, account: Account) -> date | None:
    return Contract.objects.filter(account=account).aggregate(first=Min("start"))["first"]


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


def success_plan_of(*, account: Account) -> SuccessPlan | None:
    return SuccessPlan.objects.filter(account=account).first()


def account_milestone(*, account: Account, pk: int) -> Milestone | None:
    return Milestone.objects.filter(pk=pk, account=account).first()
