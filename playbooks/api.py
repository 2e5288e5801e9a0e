"""The playbooks app's part of the JSON API: alerts, and one account's plays with their tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.models import Account
from cs_portal.clock import today
from cs_portal.params import whole_number

from .inbox.selectors import status_q
from .models import Alert, AlertDelivery, AlertKind, AlertStatus, PlayStatus
from .plays.selectors import plays_for_api
from .routing.rules import direction_of

router = Router()
MAX_LIMIT = 1000


class DeliveryOut(Schema):
    channel: str
    status: str
    attempts: int
    last_error: str
    recipient: str | None = None  # the digest's person (email); null for the inbox and Slack


class AlertOut(Schema):
    account: str
    kind: str
    created_at: datetime
    detail: str
    title: str
    key: str
    as_of: date
    status: str
    resolved_at: datetime | None
    resolved_reason: str
    deliveries: list[DeliveryOut]
    story: str = ""  # one account's alerts of one recompute share it
    direction: str = ""  # worse or better, as routing reads it


def _since(raw: str) -> datetime:
    """A date (midnight UTC) or an ISO datetime (UTC when it has no offset)."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise HttpError(
            400, f"since must be a date (YYYY-MM-DD) or an ISO datetime, not '{raw}'"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.get(
    "/alerts", response=list[AlertOut], tags=["alerts"], operation_id="playbooks_api_alerts_alerts"
)
def alerts(
    request: HttpRequest,
    account: str = "",
    kind: str = "",
    since: str = "",
    status: str = "",
    limit: str = "500",
):
    """Alerts, newest first, with their status (open, acknowledged, snoozed, resolved; a snooze
    that has run out reads as open), when and why they resolved, and where each was delivered
    (channel, status, attempts, the last error). Filters: account (external id), kind, status,
    since (created at or after; a date or an ISO datetime); at most `limit` (1-1000, default
    500)."""
    qs = Alert.objects.all()
    on = today()
    number = whole_number(limit, max_digits=5)
    if number is None or not 1 <= number <= MAX_LIMIT:
        raise HttpError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, not '{limit}'")
    if account:
        # A NUL (which PostgreSQL cannot compare with) never gets here: see cs_portal.api.
        found = Account.objects.filter(external_id=account).values_list("pk", flat=True).first()
        if found is None:
            raise HttpError(400, f"account '{account}' does not exist")
        qs = qs.filter(account_id=found)
    if kind:
        if kind not in AlertKind.values:
            raise HttpError(400, f"kind must be one of {', '.join(AlertKind.values)}, not '{kind}'")
        qs = qs.filter(kind=kind)
    if status:
        if status not in AlertStatus.values:
            raise HttpError(
                400, f"status must be one of {', '.join(AlertStatus.values)}, not '{status}'"
            )
        qs = qs.filter(status_q(status, on=on))
    if since:
        qs = qs.filter(created_at__gte=_since(since))
    rows = (
        qs.select_related("account")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=AlertDelivery.objects.select_related("recipient").order_by("channel"),
            )
        )
        .order_by("-created_at", "-id")[: int(limit)]
    )
    return [
        {
            "account": a.account.external_id,
            "kind": a.kind,
            "created_at": a.created_at,
            "detail": a.detail,
            "title": a.title,
            "key": a.key,
            "as_of": a.as_of,
            "status": a.status_on(on),
            "resolved_at": a.resolved_at,
            "resolved_reason": a.resolved_reason,
            "story": a.story,
            "direction": direction_of(a.kind, a.data),
            "deliveries": [
                {
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_error": d.last_error,
                    "recipient": d.recipient.email if d.recipient else None,
                }
                for d in a.deliveries.all()
            ],
        }
        for a in rows
    ]


# --- plays ---------------------------------------------------------------------------------


class TaskOut(Schema):
    title: str
    due: date
    status: str
    owner: str | None
    completed_at: datetime | None


class PlayOut(Schema):
    playbook: str
    name: str
    status: str
    owner: str | None
    pool: str
    started_on: date
    closed_reason: str
    tasks: list[TaskOut]


@router.get(
    "/accounts/{external_id}/plays",
    response=list[PlayOut],
    tags=["plays"],
    operation_id="playbooks_api_plays_account_plays",
)
def account_plays(request: HttpRequest, external_id: str, status: str = ""):
    """The account's plays, newest first, each with its tasks in due order. `owner` is the
    owner's email, or null while the play waits in `pool` (tier2, tier3). A play whose alert
    cleared before any task was done is `cleared`, with the reason in `closed_reason`, and its
    unfinished tasks `cancelled`. Filter with `?status=open|done|cancelled|cleared`."""
    if status and status not in PlayStatus.values:
        raise HttpError(
            400, f"status must be one of {', '.join(PlayStatus.values)}, not '{status}'"
        )
    account = (
        Account.objects.filter(external_id=external_id).first()
        if "\x00" not in external_id
        else None
    )
    if account is None:
        raise HttpError(404, f"no account '{external_id}'")
    return [
        {
            "playbook": p.playbook.key,
            "name": p.playbook.name,
            "status": p.status,
            "owner": p.owner.email if p.owner else None,
            "pool": p.pool,
            "started_on": p.started_on,
            "closed_reason": p.closed_reason,
            "tasks": [
                {
                    "title": t.title,
                    "due": t.due,
                    "status": t.status,
                    "owner": t.owner.email if t.owner else None,
                    "completed_at": t.completed_at,
                }
                for t in p.tasks.all()
            ],
        }
        for p in plays_for_api(account=account, status=status)
    ]
