"""Marking inbox alerts read."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.permissions import is_csm, sees_whole_team
from cs_portal.clock import today
from playbooks.alerts.rules import can_mark_read
from playbooks.models import Alert, AlertStatus

from .selectors import InboxFilters, inbox_scope, unread_q


def alert_mark_read(*, alert: Alert, user: User) -> bool:
    """Mark one alert read (harmless when it already is). Returns whether it changed."""
    if not can_mark_read(user, alert):
        raise PermissionDenied(
            "This alert belongs to another CSM; only they or a CS manager can mark it read."
        )
    now = timezone.now()
    changed = _mark_read(Alert.objects.filter(pk=alert.pk), now=now)
    if changed:
        alert.refresh_from_db(fields=["read_at", "status"])
    return bool(changed)


def _mark_read(qs: QuerySet[Alert], *, now) -> int:
    """Mark the unread alerts of `qs` read; one back from a snooze becomes plainly open."""
    on = today()
    woke = qs.filter(status=AlertStatus.SNOOZED, snoozed_until__lte=on).update(
        status=AlertStatus.OPEN, read_at=now
    )
    return woke + qs.filter(read_at__isnull=True).update(read_at=now)


def alerts_mark_read(*, user: User, filters: InboxFilters) -> int:
    """Mark every unread alert in view read (the filters' scope, never beyond what the user may
    mark). Returns how many changed."""
    qs = inbox_scope(user=user, filters=filters).filter(unread_q(on=today()))
    if not sees_whole_team(user):
        if filters.owner == "pooled" and not is_csm(user):
            raise PermissionDenied("Only CSMs and CS managers work the pooled queue.")
        qs = qs.filter(owner=user) if filters.owner == "me" else qs.filter(owner__isnull=True)
    # Through the ids: an UPDATE on a query with annotations and OR-ed conditions is plainer
    # this way, and the page's alerts are few.
    return _mark_read(Alert.objects.filter(pk__in=qs.values("pk")), now=timezone.now())
