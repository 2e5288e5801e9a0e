"""The in-app inbox: which alerts a person sees, the unread count, and marking alerts read.

A CSM sees the alerts they own (and can switch to the pooled queue: tier-2/3 accounts with no
named CSM); a CS manager sees everyone's, with an owner filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.http import QueryDict
from django.utils import timezone

from accounts.models import Role, User
from cs_portal.params import query_string, whole_number

from .models import Alert, AlertDelivery, AlertKind, Channel

UNREAD_VALUES = {"1", "true", "on", "yes"}
CHANNEL_ORDER = Case(
    When(channel=Channel.INBOX, then=Value(0)),
    When(channel=Channel.SLACK, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


class InboxFilterError(ValueError):
    """A query-string value the inbox does not understand; shown to the user, answered 400."""


def sees_everyone(user: User) -> bool:
    return user.is_superuser or user.role in (Role.MANAGER, Role.ADMIN)


@dataclass
class InboxFilters:
    owner: str  # "me", "pooled", "all" (managers) or a user id (managers)
    kind: str = ""
    unread: bool = False
    page: int = 1

    def as_query(self, **overrides) -> str:
        values = {
            "owner": self.owner,
            "kind": self.kind,
            "unread": "1" if self.unread else "",
            "page": self.page,
        }
        values.update(overrides)
        return query_string(values)

    @property
    def active_count(self) -> int:
        return sum((bool(self.kind), self.unread))


def inbox_filters_default(*, user: User) -> InboxFilters:
    return InboxFilters(owner="all" if sees_everyone(user) else "me")


def inbox_filters_parse(params: QueryDict, *, user: User) -> InboxFilters:
    """Read the inbox's query string. Bad values raise InboxFilterError (a 400 with the
    message); a CSM asking for someone else's alerts raises PermissionDenied."""
    f = inbox_filters_default(user=user)
    owner = (params.get("owner") or "").strip()
    if owner:
        if (number := whole_number(owner)) is not None:
            owner = "me" if number == user.pk else owner
        elif owner not in ("me", "pooled", "all"):
            raise InboxFilterError(f"owner must be me, pooled, all or a user id, not '{owner}'")
        if owner not in ("me", "pooled") and not sees_everyone(user):
            raise PermissionDenied(
                "You see your own alerts and the pooled queue; a CS manager sees everyone's."
            )
        f.owner = owner
    kind = (params.get("kind") or "").strip()
    if kind and kind not in AlertKind.values:
        raise InboxFilterError(f"kind must be one of {', '.join(AlertKind.values)}, not '{kind}'")
    f.kind = kind
    unread = (params.get("unread") or "").strip().lower()
    if unread and unread not in UNREAD_VALUES | {"0", "false", "off", "no"}:
        raise InboxFilterError(f"unread must be 1 or 0, not '{unread}'")
    f.unread = unread in UNREAD_VALUES
    page = (params.get("page") or "1").strip()
    number = whole_number(page, max_digits=6)
    if not number:
        raise InboxFilterError(f"page must be a positive whole number, not '{page}'")
    f.page = number
    return f


def _scope(*, user: User, filters: InboxFilters) -> QuerySet[Alert]:
    qs = Alert.objects.all()
    if filters.owner == "me":
        qs = qs.filter(owner=user)
    elif filters.owner == "pooled":
        qs = qs.filter(owner__isnull=True)
    elif filters.owner != "all":
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.unread:
        qs = qs.filter(read_at__isnull=True)
    return qs


def inbox_alerts(*, user: User, filters: InboxFilters) -> QuerySet[Alert]:
    """The alerts in view, newest first, with account, owner and deliveries (inbox, Slack,
    email) loaded in two queries."""
    qs = _scope(user=user, filters=filters)
    deliveries = AlertDelivery.objects.annotate(rank=CHANNEL_ORDER).order_by("rank")
    return (
        qs.select_related("account", "owner")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .order_by("-created_at", "-id")
    )


def inbox_unread_count(*, user: User) -> int:
    """Unread alerts addressed to this person (one indexed COUNT)."""
    if not user.is_authenticated:
        return 0
    return Alert.objects.filter(owner=user, read_at__isnull=True).count()


def can_mark_read(user: User, alert: Alert) -> bool:
    """The owner marks their alert read; any CSM a pooled one; a manager any alert."""
    if not user.is_authenticated:
        return False
    if sees_everyone(user) or (alert.owner_id is not None and alert.owner_id == user.pk):
        return True
    return alert.owner_id is None and user.role == Role.CSM


def alert_mark_read(*, alert: Alert, user: User) -> bool:
    """Mark one alert read (harmless when it already is). Returns whether it changed."""
    if not can_mark_read(user, alert):
        raise PermissionDenied(
            "This alert belongs to another CSM; only they or a CS manager can mark it read."
        )
    now = timezone.now()
    changed = Alert.objects.filter(pk=alert.pk, read_at__isnull=True).update(read_at=now)
    if changed:
        alert.read_at = now
    return bool(changed)


def alerts_mark_read(*, user: User, filters: InboxFilters) -> int:
    """Mark every unread alert in view read (the filters' scope, never beyond what the user may
    mark). Returns how many changed."""
    qs = _scope(user=user, filters=filters).filter(read_at__isnull=True)
    if not sees_everyone(user):
        if filters.owner == "pooled" and user.role != Role.CSM:
            raise PermissionDenied("Only CSMs and CS managers work the pooled queue.")
        qs = qs.filter(owner=user) if filters.owner == "me" else qs.filter(owner__isnull=True)
    return qs.update(read_at=timezone.now())


def inbox_unread_in_view(*, user: User, filters: InboxFilters) -> int:
    """Unread alerts among the ones the filters select (ignoring the unread filter itself)."""
    return _scope(user=user, filters=filters).filter(read_at__isnull=True).count()
