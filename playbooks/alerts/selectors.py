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
    COMMIT_THRESHOLDS,
    RENEWAL_WINDOW_DAYS,
    SCORE_DROP_POINTS,
    SPIKE_RATIO,
    Candidate,
    _Day,
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
    d7, d8 = as_of - timedelta(days=7), as_of - timedelta(days=8)
    scores = _by_day([d7, d8], scope, "score")
    week_ago = {pk: row.score for pk, row in scores[d7].items()}
    week_ago_yesterday = {pk: row.score for pk, row in scores[d8].items()}
    base = Account.objects.all() if scope is None else Account.objects.filter(pk__in=scope)
    accounts = {
        pk: _Account(pk, name, tier, csm_id)
        for pk, name, tier, csm_id in base.values_list("pk", "name", "tier", "csm_id")
    }
    # Renewal and ARR come from contracts: only the accounts that are not green need them.
    not_green = [pk for pk, snap in today.items() if snap.band != "green"]
    for pk, renewal, arr, last_end in (
        accounts_with_commercials(as_of=as_of)
        .filter(pk__in=not_green)
        .annotate(last_end=last_contract_end())
        .values_list("pk", "renewal_date", "current_arr", "last_end")
    ):
        accounts[pk].renewal_date, accounts[pk].current_arr = renewal, arr
        accounts[pk].last_end = last_end
    out: list[Candidate] = []

    for account_id, snap in today.items():
        account = accounts[account_id]
        prev = yesterday.get(account_id)
        facts = snap.facts or {}

        def add(kind, key, title, detail, data, _a=account, _s=snap):
            out.append(
                Candidate(
                    _a.pk,
                    kind,
                    key,
                    title,
                    detail,
                    {"score": _s.score, "band": _s.band, **data},
                    _a.csm_id,
                )
            )

        if prev is not None and prev.band != snap.band:
            add(
                AlertKind.BAND_CHANGE,
                f"{as_of}:{prev.band}>{snap.band}",
                f"{account.name} moved {prev.band} → {snap.band}",
                f"Health went from {prev.score} ({prev.band}) to {snap.score} ({snap.band}).",
                {"from_band": prev.band, "from_score": prev.score},
            )
        before = {o["key"] for o in (prev.overrides if prev else [])}
        for override in snap.overrides:
            if override["key"] not in before:
                add(
                    AlertKind.OVERRIDE,
                    f"{as_of}:{override['key']}",
                    f"{account.name}: {override['key']} override fired "
                    f"(health capped at {override['cap_band']})",
                    override["detail"],
                    {"override": override["key"], "cap_band": override["cap_band"]},
                )
        old = week_ago.get(account_id)
        if old is not None and old - snap.score >= SCORE_DROP_POINTS:
            old_prev, prev_score = week_ago_yesterday.get(account_id), prev.score if prev else None
            already = (
                old_prev is not None
                and prev_score is not None
                and old_prev - prev_score >= SCORE_DROP_POINTS
            )
            if not already:
                add(
                    AlertKind.SCORE_DROP,
                    f"{as_of}",
                    f"{account.name} dropped {old - snap.score} points in 7 days "
                    f"({old} → {snap.score})",
                    f"Health fell from {old} to {snap.score} in 7 days.",
                    {"from_score": old, "points": old - snap.score},
                )
        renewal = account.renewal_date
        signed = renewal and account.last_end and account.last_end > renewal
        if (
            renewal
            and not signed
            and 0 <= (renewal - as_of).days <= RENEWAL_WINDOW_DAYS
            and snap.band != "green"
        ):
            add(
                AlertKind.RENEWAL_RISK,
                f"{renewal}",
                f"{account.name} renews in {(renewal - as_of).days} days while {snap.band}",
                f"Renewal on {renewal}"
                + (f" (${account.current_arr:,.0f} ARR)" if account.current_arr else "")
                + f" and health is {snap.score} ({snap.band}).",
                {"renewal": renewal.isoformat(), "arr": float(account.current_arr)},
            )
        share = facts.get("consumed_share")
        crossed = [t for t in COMMIT_THRESHOLDS if share is not None and share >= t]
        if crossed and facts.get("period_start"):
            # Only the highest threshold crossed: jumping past 70% and 90% at once is one piece
            # of news, and a 90% alert makes a later 70% one pointless.
            threshold = crossed[-1]
            add(
                AlertKind.COMMIT_THRESHOLD,
                f"{int(threshold * 100)}:{facts['period_start']}",
                f"{account.name} crossed {int(threshold * 100)}% of its commit ({share:.0%} used)",
                f"{facts['consumed']:,.0f} of {facts['commit']:,.0f} committed units "
                f"consumed since {facts['period_start']} (contract ends "
                f"{facts['period_end']}).",
                {
                    "threshold": threshold,
                    "consumed_share": share,
                    "consumed": facts["consumed"],
                    "commit": facts["commit"],
                },
            )
        spike = facts.get("spike_ratio")
        prev_spike = (prev.facts or {}).get("spike_ratio") if prev else None
        if (
            account.tier == 3
            and spike is not None
            and spike >= SPIKE_RATIO
            and (prev_spike is None or prev_spike < SPIKE_RATIO)
        ):
            add(
                AlertKind.USAGE_SPIKE,
                f"{as_of}",
                f"{account.name}: usage spiked to {spike:.1f}× its normal level "
                f"(threshold {SPIKE_RATIO:g}×)",
                f"Last 7 days average {facts['units_7'] / 7:,.0f} units/day vs "
                f"{facts['prior_daily_avg']:,.0f} over the 28 days before: a product-qualified "
                "signal for a human to step in.",
                {"spike_ratio": spike},
            )

    overdue = Milestone.objects.filter(completed_on__isnull=True, due__lt=as_of)
    if scope is not None:
        overdue = overdue.filter(account_id__in=scope)
    for milestone in overdue:
        account = accounts.get(milestone.account_id)
        if account is None or milestone.account_id not in today:
            continue  # not scored today (lapsed): nothing to act on
        out.append(
            Candidate(
                account.pk,
                AlertKind.ONBOARDING_OVERDUE,
                f"{milestone.key}:{milestone.due}",
                f"{account.name}: {milestone.get_key_display()} milestone overdue "
                f"(due {milestone.due})",
                f"Due {milestone.due}, {(as_of - milestone.due).days} days ago, not done yet.",
                {"milestone": milestone.key, "due": milestone.due.isoformat()},
                account.csm_id,
            )
        )
    return out


def _days(as_of: date, live: QuerySet[Alert], kinds: set[str]) -> dict[int, _Day]:
    """The day's snapshot of every account with a live alert, plus the latest contract end
    (renewal alerts) and the milestones (onboarding alerts): at most three queries."""
    scope = live.values("account_id")
    days = {
        account_id: _Day(score, band, {o["key"] for o in overrides or []}, facts or {})
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
