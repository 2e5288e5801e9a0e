"""Which alerts a person sees in the inbox, in which order, and the unread counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, Prefetch, Q, QuerySet, Value, When

from accounts.models import User
from accounts.permissions import sees_whole_team
from cs_portal.clock import today
from cs_portal.params import query_string
from playbooks.models import Alert, AlertDelivery, AlertStatus, Channel, InboxRoute

UNREAD_VALUES = {"1", "true", "on", "yes"}
CHANNEL_ORDER = Case(
    When(channel=Channel.INBOX, then=Value(0)),
    When(channel=Channel.SLACK, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


# The status filter: "" (the default) is what needs attention, open and acknowledged.
STATUS_CHOICES = (
    ("", "Open and acknowledged"),
    ("open", "Open"),
    ("acknowledged", "Acknowledged"),
    ("snoozed", "Snoozed"),
    ("resolved", "Resolved"),
    ("all", "All statuses"),
)
STATUS_VALUES = [value for value, _ in STATUS_CHOICES if value]


def status_q(status: str, *, on: date) -> Q:
    """Alerts that read as `status` on `on` (a snooze that ran out reads as open; "" is open
    or acknowledged; "all" everything)."""
    woke = Q(status=AlertStatus.SNOOZED, snoozed_until__lte=on)
    if status == AlertStatus.OPEN:
        return Q(status=AlertStatus.OPEN) | woke
    if status == AlertStatus.SNOOZED:
        return Q(status=AlertStatus.SNOOZED) & ~woke
    if status in (AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED):
        return Q(status=status)
    if status == "all":
        return Q()
    return Q(status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)) | woke


def unread_q(*, on: date) -> Q:
    """Unread and still asking for attention: not resolved, never read, or back from a snooze
    that ran out (it is news again)."""
    return ~Q(status=AlertStatus.RESOLVED) & (
        Q(read_at__isnull=True) | Q(status=AlertStatus.SNOOZED, snoozed_until__lte=on)
    )


def status_rank(*, on: date) -> Case:
    """Open (and woken) first, then acknowledged, snoozed, resolved."""
    return Case(
        When(status=AlertStatus.OPEN, then=Value(0)),
        When(status=AlertStatus.SNOOZED, snoozed_until__lte=on, then=Value(0)),
        When(status=AlertStatus.ACKNOWLEDGED, then=Value(1)),
        When(status=AlertStatus.SNOOZED, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


class InboxFilterError(ValueError):
    """A query-string value the inbox does not understand; shown to the user, answered 400."""


@dataclass
class InboxFilters:
    owner: str  # "me", "pooled", "all" (managers) or a user id (managers)
    kind: str = ""
    unread: bool = False
    page: int = 1
    status: str = ""  # "" (open and acknowledged), one of STATUS_VALUES

    def as_query(self, **overrides) -> str:
        values = {
            "owner": self.owner,
            "status": self.status,
            "kind": self.kind,
            "unread": "1" if self.unread else "",
            "page": self.page,
        }
        values.update(overrides)
        return query_string(values)

    @property
    def active_count(self) -> int:
        return sum((bool(self.kind), self.unread, bool(self.status)))


def inbox_filters_default(*, user: User) -> InboxFilters:
    return InboxFilters(owner="all" if sees_whole_team(user) else "me")


def inbox_owner_check(*, user: User, owner: str) -> None:
    """Raises PermissionDenied when a CSM asks for someone else's alerts (only managers see
    the whole team; everyone sees their own and the pooled queue)."""
    if owner not in ("me", "pooled") and not sees_whole_team(user):
        raise PermissionDenied(
            "You see your own alerts and the pooled queue; a CS manager sees everyone's."
        )


def _owners(*, user: User, filters: InboxFilters) -> QuerySet[Alert]:
    """The alerts of the owner (and kind) in view, whatever their status."""
    # Routing decides whose inbox shows an alert: its owner's (the pooled queue when it has
    # none), only the managers' whole-team view, or no inbox at all (e.g. digest only).
    qs = Alert.objects.all()
    if filters.owner == "me":
        qs = qs.filter(owner=user, inbox=InboxRoute.OWNER)
    elif filters.owner == "pooled":
        qs = qs.filter(owner__isnull=True, inbox=InboxRoute.OWNER)
    elif filters.owner != "all":
        qs = qs.filter(owner_id=int(filters.owner), inbox=InboxRoute.OWNER)
    else:
        qs = qs.exclude(inbox=InboxRoute.NONE)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return qs


def inbox_scope(*, user: User, filters: InboxFilters) -> QuerySet[Alert]:
    qs = _owners(user=user, filters=filters).filter(status_q(filters.status, on=today()))
    if filters.unread:
        qs = qs.filter(unread_q(on=today()))
    return qs


def inbox_alerts(*, user: User, filters: InboxFilters) -> QuerySet[Alert]:
    """The alerts in view: open (and woken from a snooze) first, then acknowledged, snoozed and
    resolved, newest first within each; with account, owner, who acknowledged or snoozed, and
    deliveries (inbox, Slack, email) loaded in two queries."""
    qs = inbox_scope(user=user, filters=filters)
    deliveries = AlertDelivery.objects.annotate(rank=CHANNEL_ORDER).order_by("rank")
    return (
        qs.select_related("account", "owner", "acknowledged_by", "snoozed_by")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .annotate(status_rank=status_rank(on=today()))
        .order_by("status_rank", "-created_at", "-id")
    )


def inbox_status_counts(*, user: User, filters: InboxFilters) -> dict[str, int]:
    """How many alerts of the owner and kind in view read as each status (one query)."""
    on = today()
    return _owners(user=user, filters=filters).aggregate(
        **{value: Count("pk", filter=status_q(value, on=on)) for value in STATUS_VALUES}
    )


def inbox_unread_count(*, user: User) -> int:
    """Unread alerts addressed to this person that still ask for attention (not resolved;
    back from a snooze counts as unread): one indexed COUNT."""
    if not user.is_authenticated:
        return 0
    return Alert.objects.filter(unread_q(on=today()), owner=user, inbox=InboxRoute.OWNER).count()


def inbox_unread_in_view(*, user: User, filters: InboxFilters) -> int:
    """Unread alerts among the ones the filters select (ignoring the unread filter itself)."""
    return (
        _owners(user=user, filters=filters)
        .filter(status_q(filters.status, on=today()), unread_q(on=today()))
        .count()
    )


def alert_for_action(*, pk: int) -> Alert | None:
    """The alert a person acts on from the inbox, with its account and owner."""
    return Alert.objects.select_related("account", "owner").filter(pk=pk).first()
