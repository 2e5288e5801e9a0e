"""Reads behind raising and resolving alerts: the day's crossings, the snapshots to judge by."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import (
    Max,
    OuterRef,
    QuerySet,
    Subquery,
)

from accounts.models import Account, Contract
from accounts.selectors import accounts_with_commercials
from health.models import HealthSnapshot
from playbooks.models import Alert, AlertKind, Milestone

from .rules import (
    CROSSING_RULES,
    GREEN,
    SCORE_DROP_WINDOW_DAYS,
    AccountOnDay,
    Candidate,
    JudgedDay,
    onboarding_overdue,
)


def _by_day(days: list[date], ids: list[int] | None, *fields: str) -> dict[date, dict[int, tuple]]:
    """Snapshots of these days, per day and account, as plain rows with the given fields (the
    whole book's would cost more as model instances than the alert rules themselves)."""
    qs = HealthSnapshot.objects.filter(date__in=days)
    if ids is not None:
        qs = qs.filter(account_id__in=ids)
    out: dict[date, dict[int, tuple]] = {day: {} for day in days}
    for row in qs.values_list("date", "account_id", *fields, named=True):
        out[row.date][row.account_id] = row
    return out


class _Account:
    """What an alert needs to know about its account (renewal and ARR only when not green)."""

    def __init__(self, pk, name, tier, csm_id, renewal_date=None, current_arr=0):
        self.pk, self.name, self.tier, self.csm_id = pk, name, tier, csm_id
        self.renewal_date, self.current_arr = renewal_date, current_arr
        self.last_end = None  # the end of the account's latest contract, signed or running


def last_contract_end() -> Subquery:
    """The latest end among an account's contracts (for annotating accounts): past the current
    renewal date once the renewal is signed, even before the new contract starts."""
    return Subquery(
        Contract.objects.filter(account=OuterRef("pk")).order_by("-end").values("end")[:1]
    )


def alert_candidates(
    *, as_of: date, account_ids: list[int] | None = None, since_days: int = 1
) -> list[Candidate]:
    """Every crossing on `as_of`, from the day's snapshots and the ones before (5 queries).

    `since_days` > 1 compares with the snapshot that many days back instead of yesterday's:
    a catch-up after a backfill raises what crossed inside that window and still holds.
    """
    # For the whole book, filter by day only: an IN list of every account costs more than it
    # saves.
    scope = account_ids
    before = as_of - timedelta(days=since_days)
    snaps = _by_day([as_of, before], scope, "score", "band", "overrides", "facts")
    today, yesterday = snaps[as_of], snaps[before]
    if not today:
        return []
    week = timedelta(days=SCORE_DROP_WINDOW_DAYS)
    d7, d8 = as_of - week, as_of - week - timedelta(days=1)
    scores = _by_day([d7, d8], scope, "score")
    week_ago = {pk: row.score for pk, row in scores[d7].items()}
    week_ago_yesterday = {pk: row.score for pk, row in scores[d8].items()}
    not_green = [pk for pk, snap in today.items() if snap.band != GREEN]
    accounts = _accounts(as_of=as_of, scope=scope, not_green=not_green)
    out: list[Candidate] = []
    for account_id, snap in today.items():
        day = AccountOnDay(
            as_of,
            accounts[account_id],
            snap,
            yesterday.get(account_id),
            week_ago.get(account_id),
            week_ago_yesterday.get(account_id),
        )
        for rule in CROSSING_RULES:
            out += rule(day)
    overdue = Milestone.objects.filter(completed_on__isnull=True, due__lt=as_of)
    if scope is not None:
        overdue = overdue.filter(account_id__in=scope)
    for milestone in overdue:
        account = accounts.get(milestone.account_id)
        if account is None or milestone.account_id not in today:
            continue  # not scored today (lapsed): nothing to act on
        out.append(onboarding_overdue(as_of=as_of, account=account, milestone=milestone))
    return out


def _accounts(*, as_of: date, scope: list[int] | None, not_green: list[int]) -> dict[int, _Account]:
    """The scoped accounts; renewal and ARR come from contracts, so only the accounts that are
    not green get them."""
    base = Account.objects.all() if scope is None else Account.objects.filter(pk__in=scope)
    accounts = {
        pk: _Account(pk, name, tier, csm_id)
        for pk, name, tier, csm_id in base.values_list("pk", "name", "tier", "csm_id")
    }
    for pk, renewal, arr, last_end in (
        accounts_with_commercials(as_of=as_of)
        .filter(pk__in=not_green)
        .annotate(last_end=last_contract_end())
        .values_list("pk", "renewal_date", "current_arr", "last_end")
    ):
        accounts[pk].renewal_date, accounts[pk].current_arr = renewal, arr
        accounts[pk].last_end = last_end
    return accounts


def days_to_judge(as_of: date, live: QuerySet[Alert], kinds: set[str]) -> dict[int, JudgedDay]:
    """The day's snapshot of every account with a live alert, plus the latest contract end
    (renewal alerts) and the milestones (onboarding alerts): at most three queries."""
    scope = live.values("account_id")
    days = {
        account_id: JudgedDay(score, band, {o["key"] for o in overrides or []}, facts or {})
        for account_id, score, band, overrides, facts in HealthSnapshot.objects.filter(
            date=as_of, account_id__in=scope
        ).values_list("account_id", "score", "band", "overrides", "facts")
    }
    if AlertKind.RENEWAL_RISK in kinds:
        for account_id, last_end in (
            Contract.objects.filter(
                account_id__in=live.filter(kind=AlertKind.RENEWAL_RISK).values("account_id")
            )
            .values("account_id")
            .annotate(last_end=Max("end"))
            .values_list("account_id", "last_end")
        ):
            if account_id in days:
                days[account_id].last_end = last_end
    if AlertKind.ONBOARDING_OVERDUE in kinds:
        for account_id, key, completed_on in Milestone.objects.filter(
            account_id__in=live.filter(kind=AlertKind.ONBOARDING_OVERDUE).values("account_id")
        ).values_list("account_id", "key", "completed_on"):
            if account_id in days:
                if days[account_id].milestones is None:
                    days[account_id].milestones = {}
                days[account_id].milestones[key] = completed_on
    return days
