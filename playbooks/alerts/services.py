"""Raise, resolve, acknowledge, snooze and reopen alerts."""

from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.notices import Notice
from cs_portal.clock import today
from health.events import is_live
from playbooks.delivery.services import deliveries_drop_resolved, deliveries_enqueue
from playbooks.models import (
    Alert,
    AlertDelivery,
    AlertStatus,
    Play,
    PlayStatus,
    Task,
    TaskStatus,
)
from playbooks.plays.services import plays_start_for_alerts
from playbooks.routing.services import ToRoute, routes_for

from .rules import (
    NOT_RESOLVED,
    REOPENED,
    SNOOZE_MAX_DAYS,
    Candidate,
    alert_values,
    can_work_alert,
    cleared_reason,
)
from .selectors import alert_candidates, days_to_judge

log = logging.getLogger(__name__)


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
    if not is_live(as_of):
        return []
    candidates = alert_candidates(as_of=as_of, account_ids=account_ids, since_days=since_days)
    if not candidates:
        return []
    existing = _existing(candidates, account_ids)
    # One recompute's alerts on one account are one story: one inbox entry, one Slack message.
    run = uuid.uuid4().hex[:8]
    reopened = _alerts_reopen(candidates, existing, as_of=as_of, run=run)
    created = _alerts_create(candidates, set(existing), as_of=as_of, run=run)
    if created or reopened:
        plays_start_for_alerts(created + reopened)
    if created:
        ids = [a.pk for a in created]
        transaction.on_commit(lambda: deliveries_enqueue(ids))
        log.info("raised %d alerts as of %s", len(created), as_of)
    if reopened:
        log.info("reopened %d alerts as of %s: their condition holds again", len(reopened), as_of)
    return created


def _routed(candidates: list[Candidate], *, as_of: date, run: str) -> list[dict]:
    """Each candidate's row values with its route (owner, inbox, routing) and story."""
    routes = routes_for([ToRoute(c.account_id, c.kind, c.data) for c in candidates])
    return [
        alert_values(c, as_of)
        | {
            "owner_id": r.owner_id,
            "inbox": r.inbox,
            "routing": r.as_data(),
            "story": f"{as_of}:{c.account_id}:{run}",
        }
        for c, r in zip(candidates, routes, strict=True)
    ]


def _alerts_create(
    candidates: list[Candidate], seen: set[tuple], *, as_of: date, run: str
) -> list[Alert]:
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
    values = _routed(fresh, as_of=as_of, run=run)
    try:
        with transaction.atomic():
            return Alert.objects.bulk_create(
                [
                    Alert(account_id=c.account_id, kind=c.kind, key=c.key, **v)
                    for c, v in zip(fresh, values, strict=True)
                ]
            )
    except IntegrityError:
        pass
    created = []
    for c, v in zip(fresh, values, strict=True):
        try:
            with transaction.atomic():
                alert, new = Alert.objects.get_or_create(
                    account_id=c.account_id, kind=c.kind, key=c.key, defaults=v
                )
        except IntegrityError:  # another worker raised it a moment ago
            continue
        if new:
            created.append(alert)
    return created


def _alerts_reopen(
    candidates: list[Candidate], existing: dict[tuple, tuple[int, str]], *, as_of: date, run: str
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
    values = _routed([wanted[a.pk] for a in alerts], as_of=as_of, run=run)
    for alert, v in zip(alerts, values, strict=True):
        for name, value in (v | REOPENED).items():
            setattr(alert, name, value)
    Alert.objects.bulk_update(alerts, list(values[0] | REOPENED), 500)
    return alerts


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


RESOLVE_BATCH = 500


def alert_from_notice(notice: Notice) -> Alert | None:
    """Deliver a notice another app sends (`accounts.notices`) as an alert to its recipient,
    routed like any alert (by default an expansion hand-off reaches the AE in the inbox and on
    Slack). Once per
    (account, kind, key): a repeated notice returns None and delivers nothing again. No
    lifecycle rule resolves it; its recipient acknowledges it."""
    [r] = routes_for(
        [ToRoute(notice.account_id, notice.kind, notice.data, recipient_id=notice.recipient_id)]
    )
    with transaction.atomic():
        alert, created = Alert.objects.get_or_create(
            account_id=notice.account_id,
            kind=notice.kind,
            key=notice.key[:120],
            defaults={
                "as_of": notice.as_of,
                "title": notice.title[:200],
                "detail": notice.detail,
                "data": notice.data,
                "owner_id": r.owner_id or notice.recipient_id,
                "inbox": r.inbox,
                "routing": r.as_data(),
                "story": f"{notice.as_of}:{notice.account_id}:{notice.kind}:{notice.key}"[:80],
            },
        )
    if not created:
        return None
    transaction.on_commit(lambda: deliveries_enqueue([alert.pk]))
    return alert


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


def story_acknowledge(*, story: str, user: User) -> int:
    """Acknowledge every open or snoozed alert of one story (one account's alerts of one
    recompute), as one inbox entry is worked: the band change, the override behind it and the
    score drop are one thing to be on. Returns how many changed; raises PermissionDenied when
    `user` may work none of them."""
    parts = list(
        Alert.objects.filter(
            story=story, status__in=(AlertStatus.OPEN, AlertStatus.SNOOZED)
        ).select_related("account")
    )
    if story == "" or not parts:
        return 0
    allowed = [a for a in parts if can_work_alert(user, a)]
    if not allowed:
        _check(user, parts[0], "acknowledge")
    return sum(alert_acknowledge(alert=a, user=user) for a in allowed)


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
    if not is_live(as_of):
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
    days = days_to_judge(as_of, live, {r.kind for r in rows})
    reasons: dict[int, str] = {}
    for row in rows:
        day = days.get(row.account_id)
        if day is None:
            continue  # not scored that day: nothing to judge by
        reason = cleared_reason(row, day)
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
