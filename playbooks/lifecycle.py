"""The alert lifecycle: acknowledge, snooze and reopen (people), resolve (the recompute).

    open ──acknowledge──▶ acknowledged
      │  ◀──reopen──────────┘   │
      ├──snooze (until a date)──▶ snoozed ──the date comes──▶ open
      └──condition cleared (any of the above)──▶ resolved ──holds again──▶ open

People act on an alert under the inbox's rules (`inbox.can_work_alert`): its owner, any CSM
for a pooled alert, a CS manager for any. Acknowledging or snoozing also marks it read.

A snooze runs until `snoozed_until`: from that day on the alert reads as open (`Alert.status_on`,
and the inbox's and API's queries do the same), and the next live recompute flips the row.

`alerts_resolve` runs after every live recompute, before new alerts are raised: every alert of
the scoped accounts that is not resolved and whose condition no longer holds on that day's
snapshot is resolved with a reason a CSM reads ("band back to green (score 74)"), and its
deliveries that have not gone out yet are dropped. Accounts without a snapshot that day are left
alone. Set-based: a handful of queries for the whole book.
Plays started by a resolved alert on which nobody did any work are closed as "condition
cleared" and their open tasks cancelled; a play with work done stays open (the Plays tab says
the condition cleared). A resolved alert whose crossing holds again is reopened by
`alerts.alerts_raise`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    Exists,
    F,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Contract, User
from accounts.selectors import today
from health.models import HealthSnapshot

from .alerts import LIVE_DAYS, SCORE_DROP_POINTS, SPIKE_RATIO
from .delivery import deliveries_drop_resolved
from .inbox import can_work_alert
from .models import (
    Alert,
    AlertDelivery,
    AlertKind,
    AlertStatus,
    Milestone,
    Play,
    PlayStatus,
    Task,
    TaskStatus,
)

log = logging.getLogger(__name__)

SNOOZE_MAX_DAYS = 90
SNOOZE_CHOICES = ((1, "1 day"), (3, "3 days"), (7, "1 week"))
RESOLVE_BATCH = 500
NOT_RESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED)


# --- people -----------------------------------------------------------------------------------


def _check(user: User, alert: Alert, verb: str) -> None:
    if not can_work_alert(user, alert):
        raise PermissionDenied(
            f"This alert belongs to another CSM; only they or a CS manager can {verb} it."
        )
    alert.refresh_from_db()
    if alert.status == AlertStatus.RESOLVED:
        raise ValidationError(
            f"This alert is already resolved ({alert.resolved_reason or 'condition cleared'}); "
            "there is nothing left to " + verb + "."
        )


def _read_now(now) -> Coalesce:
    """Keep the first read time; mark it read now if it was unread."""
    return Coalesce(F("read_at"), Value(now, output_field=DateTimeField()))


def alert_acknowledge(*, alert: Alert, user: User) -> bool:
    """Say someone is on it: the alert leaves the open pile (and is read). Ends a snooze.

    Returns False when it was already acknowledged. Raises PermissionDenied for someone who may
    not work the alert, ValidationError for a resolved one."""
    _check(user, alert, "acknowledge")
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return False
    now = timezone.now()
    changed = Alert.objects.filter(
        pk=alert.pk, status__in=(AlertStatus.OPEN, AlertStatus.SNOOZED)
    ).update(
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_by=user,
        acknowledged_at=now,
        snoozed_until=None,
        snoozed_by=None,
        snoozed_at=None,
        read_at=_read_now(now),
    )
    alert.refresh_from_db()
    return bool(changed)


def snooze_until_parse(raw_days: str = "", raw_until: str = "", *, on: date) -> date:
    """The day a snooze ends, from a number of days (1, 3, 7) or a date (YYYY-MM-DD).

    Raises ValidationError with a message for the person snoozing."""
    raw_days, raw_until = (raw_days or "").strip(), (raw_until or "").strip()
    if raw_days:
        allowed = {str(n) for n, _ in SNOOZE_CHOICES}
        if raw_days not in allowed:
            raise ValidationError("Snooze for 1, 3 or 7 days, or pick a date.")
        return on + timedelta(days=int(raw_days))
    if not raw_until:
        raise ValidationError("Pick how long to snooze: 1 day, 3 days, 1 week or a date.")
    try:
        return date.fromisoformat(raw_until)
    except ValueError:
        raise ValidationError(f"'{raw_until[:20]}' is not a date (YYYY-MM-DD).") from None


def alert_snooze(*, alert: Alert, user: User, until: date) -> bool:
    """Put the alert away until `until` (tomorrow at the earliest, at most 90 days ahead); from
    that day on it reads as open again. Also marks it read.

    Returns False when it was already snoozed until that day. Raises PermissionDenied or
    ValidationError (resolved alert, a day that is not in the future or too far)."""
    _check(user, alert, "snooze")
    on = today()
    if until <= on:
        raise ValidationError(f"Snooze until a day after today ({on.isoformat()}).")
    if until > on + timedelta(days=SNOOZE_MAX_DAYS):
        raise ValidationError(
            f"Snooze for at most {SNOOZE_MAX_DAYS} days (until "
            f"{(on + timedelta(days=SNOOZE_MAX_DAYS)).isoformat()})."
        )
    if alert.status == AlertStatus.SNOOZED and alert.snoozed_until == until:
        return False
    now = timezone.now()
    changed = Alert.objects.filter(pk=alert.pk, status__in=NOT_RESOLVED).update(
        status=AlertStatus.SNOOZED,
        snoozed_until=until,
        snoozed_by=user,
        snoozed_at=now,
        read_at=_read_now(now),
    )
    alert.refresh_from_db()
    return bool(changed)


def alert_reopen(*, alert: Alert, user: User) -> bool:
    """Undo an acknowledgement or a snooze: the alert is open again.

    Returns False when it already reads as open. A resolved alert cannot be reopened by hand
    (its condition cleared; it reopens by itself if the condition holds again)."""
    _check(user, alert, "reopen")
    if alert.status_on(today()) == AlertStatus.OPEN and alert.status == AlertStatus.OPEN:
        return False
    changed = Alert.objects.filter(
        pk=alert.pk, status__in=(AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED)
    ).update(
        status=AlertStatus.OPEN,
        acknowledged_by=None,
        acknowledged_at=None,
        snoozed_until=None,
        snoozed_by=None,
        snoozed_at=None,
    )
    alert.refresh_from_db()
    return bool(changed)


# --- the recompute ----------------------------------------------------------------------------


def alerts_wake_snoozed(*, on: date, account_ids: list[int] | None = None) -> int:
    """Flip the snoozes that have run out by `on` back to open (and unread: the alert is news
    again). The row keeps who snoozed it until when. Returns how many woke."""
    qs = Alert.objects.filter(status=AlertStatus.SNOOZED, snoozed_until__lte=on)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return qs.update(status=AlertStatus.OPEN, read_at=None)


@dataclass
class _Day:
    """What the resolve pass knows about one account on the day."""

    score: int
    band: str
    overrides: set[str]
    facts: dict
    last_end: date | None = None
    milestones: dict | None = None


def alerts_resolve(*, as_of: date, account_ids: list[int] | None = None) -> int:
    """Resolve every alert of these accounts (None: the whole book) that is not resolved and
    whose condition no longer holds on `as_of`'s snapshot; close the plays it started that
    nobody worked. Only for live days (like `alerts_raise`); idempotent. Returns how many
    alerts it resolved.

    When each kind still holds:
    - band_change: the band is still the one the alert moved into;
    - override: that override is among the day's overrides;
    - score_drop: the score is still at least 15 points under the score before the drop;
    - renewal_risk: no contract runs past the alert's renewal date (a signed renewal moves it)
      and the band is not green;
    - onboarding_overdue: the milestone is not completed;
    - commit_threshold: the same contract period is current and the share used is still at or
      above the threshold;
    - usage_spike: usage still runs at 5× or more its prior daily average.
    """
    from health.services import last_complete_day

    if as_of < last_complete_day() - timedelta(days=LIVE_DAYS - 1):
        return 0
    alerts_wake_snoozed(on=today(), account_ids=account_ids)
    # An alert raised from a later day's snapshot is not judged by an earlier one (a late
    # recompute of the day before).
    live = Alert.objects.filter(status__in=NOT_RESOLVED, as_of__lte=as_of)
    if account_ids is not None:
        live = live.filter(account_id__in=account_ids)
    rows = list(live.values_list("pk", "account_id", "kind", "key", "data", named=True))
    if not rows:
        return 0
    days = _days(as_of, live, {r.kind for r in rows})
    reasons: dict[int, str] = {}
    for row in rows:
        day = days.get(row.account_id)
        if day is None:
            continue  # not scored that day: nothing to judge by
        reason = _cleared(row, day)
        if reason:
            reasons[row.pk] = reason[:300]
    if not reasons:
        return 0
    now = timezone.now()
    resolved = 0
    ids = list(reasons)
    with transaction.atomic():
        for start in range(0, len(ids), RESOLVE_BATCH):
            batch = ids[start : start + RESOLVE_BATCH]
            resolved += Alert.objects.filter(pk__in=batch, status__in=NOT_RESOLVED).update(
                status=AlertStatus.RESOLVED,
                resolved_at=now,
                resolved_as_of=as_of,
                resolved_reason=Case(
                    *(When(pk=pk, then=Value(reasons[pk])) for pk in batch),
                    output_field=CharField(),
                ),
            )
            # What has not gone out yet (Slack in its grace period, the next digest) is not sent.
            deliveries_drop_resolved(AlertDelivery.objects.filter(alert_id__in=batch), now=now)
        plays_close_cleared(account_ids=account_ids)
    log.info("resolved %d alerts as of %s: their condition cleared", resolved, as_of)
    return resolved


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


def _cleared(row, day: _Day) -> str:
    """Why this alert's condition no longer holds on the day, or "" while it holds (or when
    the alert lacks the numbers to tell)."""
    data = row.data or {}
    kind = row.kind
    if kind == AlertKind.BAND_CHANGE:
        band = data.get("band")
        if not band or day.band == band:
            return ""
        back = "back to" if day.band == data.get("from_band") else "now"
        return f"band {back} {day.band} (score {day.score})"
    if kind == AlertKind.OVERRIDE:
        key = data.get("override")
        return f"override {key} no longer fires" if key and key not in day.overrides else ""
    if kind == AlertKind.SCORE_DROP:
        before = data.get("from_score")
        if before is None or before - day.score >= SCORE_DROP_POINTS:
            return ""
        return f"score back to {day.score} ({before} before the drop)"
    if kind == AlertKind.RENEWAL_RISK:
        renewal = data.get("renewal")
        if not renewal:
            return ""
        if day.last_end and day.last_end > date.fromisoformat(renewal):
            return f"renewal signed: contract now ends {day.last_end.isoformat()}"
        return f"band back to green (score {day.score})" if day.band == "green" else ""
    if kind == AlertKind.ONBOARDING_OVERDUE:
        key = data.get("milestone")
        if not key:
            return ""
        milestones = day.milestones or {}
        if key not in milestones:
            return "milestone removed from the onboarding plan"
        done = milestones[key]
        return f"milestone completed on {done.isoformat()}" if done else ""
    if kind == AlertKind.COMMIT_THRESHOLD:
        threshold, _, period_start = row.key.partition(":")
        if not period_start or data.get("threshold") is None:
            return ""
        if day.facts.get("period_start") != period_start:
            return "commit period ended"
        share = day.facts.get("consumed_share")
        if share is not None and share >= float(data["threshold"]):
            return ""
        used = "no commit use measured" if share is None else f"{share:.0%} used"
        return f"commit use back under {threshold}% ({used})"
    if kind == AlertKind.USAGE_SPIKE:
        spike = day.facts.get("spike_ratio")
        if spike is not None and spike >= SPIKE_RATIO:
            return ""
        return "usage back to normal" if spike is None else f"usage back to {spike:.1f}× normal"
    return ""


def plays_close_cleared(*, account_ids: list[int] | None = None) -> int:
    """Close the open plays whose alert is resolved and on which no task was done yet, as
    "condition cleared" (with the alert's reason); their open tasks are cancelled, so they leave
    everyone's My work. Plays with work done stay open. Returns how many plays closed."""
    done = Task.objects.filter(play=OuterRef("pk"), status=TaskStatus.DONE)
    plays = Play.objects.filter(status=PlayStatus.OPEN, alert__status=AlertStatus.RESOLVED).filter(
        ~Exists(done)
    )
    if account_ids is not None:
        plays = plays.filter(account_id__in=account_ids)
    reason = Alert.objects.filter(pk=OuterRef("alert_id")).values("resolved_reason")[:1]
    closed = plays.update(
        status=PlayStatus.CLEARED, finished_at=timezone.now(), closed_reason=Subquery(reason)
    )
    if closed:
        tasks = Task.objects.filter(status=TaskStatus.OPEN, play__status=PlayStatus.CLEARED)
        if account_ids is not None:
            tasks = tasks.filter(account_id__in=account_ids)
        tasks.update(status=TaskStatus.CANCELLED)
        log.info("closed %d plays whose condition cleared before any work was done", closed)
    return closed
