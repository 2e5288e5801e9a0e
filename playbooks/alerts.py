"""Raise alerts from the day's snapshots: one alert per threshold crossing, never repeated.

Called right after a recompute has stored its snapshots. Each alert's `key` names the crossing
(the day it happened, the renewal or contract period it belongs to), and (account, kind, key)
is unique, so recomputing the same day, a retried task or a second worker cannot raise it
twice. Backfills of past days raise nothing: an alert is news, not history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery

from accounts.models import Account, Contract
from accounts.selectors import accounts_with_commercials
from health.models import HealthSnapshot

from .models import Alert, AlertKind, AlertStatus, Milestone

log = logging.getLogger(__name__)

SCORE_DROP_POINTS = 15
RENEWAL_WINDOW_DAYS = 90
COMMIT_THRESHOLDS = (0.7, 0.9)
SPIKE_RATIO = 5.0
LIVE_DAYS = 2  # recomputes of the last complete day (or the one before) raise alerts


@dataclass
class Candidate:
    account_id: int
    kind: str
    key: str
    title: str
    detail: str
    data: dict
    owner_id: int | None


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


def alerts_raise(
    *, as_of: date, account_ids: list[int] | None = None, since_days: int = 1
) -> list[Alert]:
    """Create the alerts for the day's crossings that do not exist yet; start their plays and
    queue their delivery after commit. Returns the new alerts.

    A crossing whose alert was resolved (its condition had cleared) and that holds again is
    reopened rather than raised twice: open and unread again, with today's numbers, and its
    plays start again if none is running (its deliveries went out the first time).

    With `since_days` (e.g. 30 after a first backfill) the day is compared with the snapshot
    that far back, so conditions that began inside the window and still hold are raised once.
    """
    from health.services import last_complete_day

    if as_of < last_complete_day() - timedelta(days=LIVE_DAYS - 1):
        return []
    candidates = alert_candidates(as_of=as_of, account_ids=account_ids, since_days=since_days)
    if not candidates:
        return []
    existing = _existing(candidates, account_ids)
    reopened = _alerts_reopen(candidates, existing, as_of=as_of)
    created = _alerts_create(candidates, set(existing), as_of=as_of)
    if created or reopened:
        from .plays import plays_start_for_alerts

        plays_start_for_alerts(created + reopened)
    if created:
        from .delivery import deliveries_enqueue

        ids = [a.pk for a in created]
        transaction.on_commit(lambda: deliveries_enqueue(ids))
        log.info("raised %d alerts as of %s", len(created), as_of)
    if reopened:
        log.info("reopened %d alerts as of %s: their condition holds again", len(reopened), as_of)
    return created


def _alerts_create(candidates: list[Candidate], seen: set[tuple], *, as_of: date) -> list[Alert]:
    """Insert the candidates that are not alerts yet (`seen`: the keys that exist); returns the
    alerts this call created.

    Most crossings on a recompute were raised before (a commit threshold holds all period), so
    one read of the existing keys leaves only the new ones, inserted in one statement. If that
    insert meets an alert another worker raised a moment ago, the new ones are taken one by one
    instead, each skipping the alerts that exist by then.
    """
    fresh = []
    for c in candidates:
        if (c.account_id, c.kind, c.key) not in seen:
            seen.add((c.account_id, c.kind, c.key))
            fresh.append(c)
    if not fresh:
        return []
    try:
        with transaction.atomic():
            return Alert.objects.bulk_create(
                [
                    Alert(account_id=c.account_id, kind=c.kind, key=c.key, **_values(c, as_of))
                    for c in fresh
                ]
            )
    except IntegrityError:
        pass
    created = []
    for c in fresh:
        try:
            with transaction.atomic():
                alert, new = Alert.objects.get_or_create(
                    account_id=c.account_id, kind=c.kind, key=c.key, defaults=_values(c, as_of)
                )
        except IntegrityError:  # another worker raised it a moment ago
            continue
        if new:
            created.append(alert)
    return created


def _alerts_reopen(
    candidates: list[Candidate], existing: dict[tuple, tuple[int, str]], *, as_of: date
) -> list[Alert]:
    """Reopen the resolved alerts whose crossing holds again (one read, one batched update)."""
    wanted: dict[int, Candidate] = {}
    for c in candidates:
        pk, status = existing.get((c.account_id, c.kind, c.key), (None, ""))
        if status == AlertStatus.RESOLVED:
            wanted[pk] = c
    if not wanted:
        return []
    # Resolved by a later day's snapshot: a late recompute of an earlier day does not undo it.
    alerts = list(
        Alert.objects.filter(pk__in=wanted, status=AlertStatus.RESOLVED, resolved_as_of__lte=as_of)
    )
    if not alerts:
        return []
    for alert in alerts:
        for name, value in (_values(wanted[alert.pk], as_of) | REOPENED).items():
            setattr(alert, name, value)
    Alert.objects.bulk_update(alerts, list(_values(wanted[alerts[0].pk], as_of) | REOPENED), 500)
    return alerts


# What reopening an alert clears: it reads as news again.
REOPENED = {
    "status": AlertStatus.OPEN,
    "read_at": None,
    "acknowledged_by": None,
    "acknowledged_at": None,
    "snoozed_until": None,
    "snoozed_by": None,
    "snoozed_at": None,
    "resolved_at": None,
    "resolved_as_of": None,
    "resolved_reason": "",
}


def _existing(candidates: list[Candidate], account_ids: list[int] | None) -> dict[tuple, tuple]:
    """(account, kind, key) → (id, status) of the candidates' alerts that exist already (read by
    key: for the whole book an IN list of every account would cost more than it saves)."""
    qs = Alert.objects.filter(key__in={c.key for c in candidates})
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return {
        (a, kind, key): (pk, status)
        for pk, a, kind, key, status in qs.values_list("pk", "account_id", "kind", "key", "status")
    }


def _values(c: Candidate, as_of: date) -> dict:
    return {
        "as_of": as_of,
        "title": c.title[:200],
        "detail": c.detail,
        "data": c.data,
        "owner_id": c.owner_id,
    }
