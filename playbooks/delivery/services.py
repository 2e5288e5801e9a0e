"""Record alert deliveries, post them to Slack and send the daily digests."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby

from celery.exceptions import Retry
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from slack_sdk.webhook import WebhookClient

from playbooks.models import (
    Alert,
    AlertDelivery,
    AlertStatus,
    Channel,
    DeliveryStatus,
)
from playbooks.queueing import queued_task

from .messages import digest_email, slack_message
from .rules import (
    DELIVER_ALERT_TASK,
    DIGEST_WINDOW,
    MAX_ATTEMPTS,
    NETWORK_ERRORS,
    OPEN,
    DeliveryError,
    DigestError,
    error_text,
    grace_seconds,
)

log = logging.getLogger(__name__)


SLACK_OFF = "Slack is not configured (SLACK_WEBHOOK_URL is empty)"


def _wanted(alert: Alert, *, now: datetime, slack_on: bool) -> list[tuple[str, int | None, dict]]:
    """(channel, recipient, values) of the delivery rows one alert gets: what its route says
    (an alert raised before routing: every channel, the digest to its owner)."""
    sent = {"status": DeliveryStatus.SENT, "attempts": 1, "sent_at": now}
    slack = (
        {"status": DeliveryStatus.PENDING}
        if slack_on
        else {"status": DeliveryStatus.SKIPPED, "last_error": SLACK_OFF}
    )
    route = alert.routing or {}
    if not route:
        emailable = alert.owner is not None and alert.owner.is_active and alert.owner.email
        email = (
            {"status": DeliveryStatus.PENDING}
            if emailable
            else {"status": DeliveryStatus.SKIPPED, "last_error": "pooled alert: no CSM to email"}
        )
        return [
            (Channel.INBOX, None, sent),
            (Channel.SLACK, None, slack),
            (Channel.EMAIL, None, email),
        ]
    channels = route.get("channels", [])
    rows: list[tuple[str, int | None, dict]] = []
    if Channel.INBOX in channels:
        rows.append((Channel.INBOX, None, sent))
    if Channel.SLACK in channels:
        rows.append((Channel.SLACK, None, slack))
    rows += [
        (Channel.EMAIL, person, {"status": DeliveryStatus.PENDING})
        for person in route.get("email_to", [])
    ]
    return rows


def _deliveries_create(alert_ids: list[int]) -> list[list[int]]:
    alerts = list(
        Alert.objects.filter(pk__in=alert_ids)
        .select_related("owner")
        .only("id", "account_id", "routing", "owner__email", "owner__is_active")
    )
    existing = set(
        AlertDelivery.objects.filter(alert_id__in=alert_ids).values_list(
            "alert_id", "channel", "recipient_id"
        )
    )
    now = timezone.now()
    slack_on = bool(settings.SLACK_WEBHOOK_URL)
    rows = [
        AlertDelivery(alert_id=alert.pk, channel=channel, recipient_id=person, **values)
        for alert in alerts
        for channel, person, values in _wanted(alert, now=now, slack_on=slack_on)
        if (alert.pk, channel, person) not in existing
    ]
    AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    new_slack = [
        r.alert_id
        for r in rows
        if r.channel == Channel.SLACK and r.status == DeliveryStatus.PENDING
    ]
    if not new_slack:
        return []
    return _slack_groups(AlertDelivery.objects.filter(alert_id__in=new_slack))


def _slack_groups(deliveries) -> list[list[int]]:
    """The untried Slack deliveries among these, grouped per story (one account's alerts of
    one recompute; alerts from before stories, per account): one message each."""
    untried = (
        deliveries.filter(channel=Channel.SLACK, status=DeliveryStatus.PENDING, attempts=0)
        .order_by("alert__account_id", "alert__story", "pk")
        .values_list("alert__account_id", "alert__story", "pk")
    )
    return [[pk for *_, pk in group] for _, group in groupby(untried, key=lambda r: r[:2])]


def slack_delivery_send(*, delivery_ids: list[int], last_try: bool = False) -> str:
    """Post one message for these Slack deliveries (one account's alerts) and record the
    outcome on each. Returns the new status.

    The attempt is claimed with a conditional UPDATE (status still open, attempts unchanged),
    so a duplicated or redelivered task never posts a message that was already sent, and two
    copies of one task never post the same attempt twice. A failed attempt raises DeliveryError
    (the task retries it) until the last one, which marks the deliveries failed.
    """
    deliveries_drop_resolved(
        AlertDelivery.objects.filter(pk__in=delivery_ids, channel=Channel.SLACK),
        now=timezone.now(),
    )
    rows = list(
        AlertDelivery.objects.filter(pk__in=delivery_ids, channel=Channel.SLACK)
        .select_related("alert__account", "alert__owner")
        .order_by("pk")
    )
    if not rows:
        return "missing"
    still_open = [d for d in rows if d.status in OPEN]
    if not still_open:
        return rows[0].status
    mine = [d for d in still_open if d.attempts == still_open[0].attempts]
    ids = [d.pk for d in mine]
    now = timezone.now()
    url = settings.SLACK_WEBHOOK_URL
    if not url:
        AlertDelivery.objects.filter(pk__in=ids, status__in=OPEN).update(
            status=DeliveryStatus.SKIPPED, updated_at=now, last_error=SLACK_OFF
        )
        return DeliveryStatus.SKIPPED
    attempt = mine[0].attempts + 1
    claimed = AlertDelivery.objects.filter(
        pk__in=ids,
        status__in=OPEN,
        attempts=attempt - 1,
    ).update(attempts=attempt, updated_at=now)
    if claimed != len(ids):
        return "claimed elsewhere"
    retry = False
    try:
        message = slack_message(alerts=[d.alert for d in mine])
        client = WebhookClient(
            url, timeout=settings.ALERT_HTTP_TIMEOUT, retry_handlers=[]
        )  # Celery retries, with backoff, not the SDK
        response = client.send(text=message["text"], blocks=message["blocks"])
        error = (
            ""
            if 200 <= response.status_code < 300
            else f"HTTP {response.status_code}: {(response.body or '').strip()[:200]}"
        )
        retry = bool(error)
    except NETWORK_ERRORS as exc:
        error, retry = error_text(exc), True
    except Exception as exc:  # a bug building the message: retrying would not help
        log.exception("Slack deliveries %s failed", ids)
        error = f"{type(exc).__name__}: {exc}"[:300]
    now = timezone.now()
    done = AlertDelivery.objects.filter(pk__in=ids, status__in=OPEN, attempts=attempt)
    if not error:
        done.update(status=DeliveryStatus.SENT, sent_at=now, last_error="", updated_at=now)
        return DeliveryStatus.SENT
    final = not retry or last_try or attempt >= MAX_ATTEMPTS
    status = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
    done.update(status=status, last_error=error, updated_at=now)
    if final:
        log.warning("Slack deliveries %s failed after %d attempts: %s", ids, attempt, error)
        return DeliveryStatus.FAILED
    raise DeliveryError(error)


def deliveries_drop_resolved(deliveries, *, now: datetime) -> int:
    """Mark the still-open deliveries (of `deliveries`) of resolved alerts dropped: the
    condition cleared before they went out. Returns how many."""
    return deliveries.filter(status__in=OPEN, alert__status=AlertStatus.RESOLVED).update(
        status=DeliveryStatus.DROPPED,
        updated_at=now,
        last_error=DeliveryStatus.DROPPED.label,
    )


def digests_send(*, now: datetime | None = None) -> int:
    """Send each person one email listing the alerts of the last day routed to their digest
    that no digest carried yet
    and that are not resolved (plain text and HTML) and mark those deliveries sent (resolved
    ones dropped). A CSM with nothing gets no email.
    Each CSM's rows are locked while their email goes out, so two runs never send one twice.
    Returns the number of emails sent; raises DigestError after trying everyone if any failed.
    """
    now = now or timezone.now()
    since = now - DIGEST_WINDOW
    deliveries_drop_resolved(AlertDelivery.objects.filter(channel=Channel.EMAIL), now=now)
    AlertDelivery.objects.filter(
        channel=Channel.EMAIL, status__in=OPEN, alert__created_at__lt=since
    ).update(
        status=DeliveryStatus.SKIPPED,
        updated_at=now,
        last_error="no digest ran within a day of the alert",
    )
    # The person a digest line is for: its recipient (routing), else (recorded before
    # routing) the alert's owner.
    pending = list(
        AlertDelivery.objects.filter(channel=Channel.EMAIL, status__in=OPEN)
        .filter(alert__created_at__gte=since)
        .filter(
            Q(recipient__is_active=True)
            | Q(recipient__isnull=True, alert__owner__isnull=False, alert__owner__is_active=True)
        )
        .annotate(to_id=Coalesce("recipient_id", "alert__owner_id"))
        .select_related("alert__account", "alert__owner", "recipient")
        .order_by("to_id", "-alert__created_at", "-alert_id")
    )
    sent, failures = 0, []
    for _, group in groupby(pending, key=lambda d: d.to_id):
        deliveries = list(group)
        owner = deliveries[0].recipient or deliveries[0].alert.owner
        with transaction.atomic():
            locked = set(
                AlertDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk__in=[d.pk for d in deliveries], status__in=OPEN)
                .values_list("pk", flat=True)
            )
            mine = [d for d in deliveries if d.pk in locked]
            if not mine:
                continue
            rows = AlertDelivery.objects.filter(pk__in=locked)
            try:
                digest_email(owner=owner, alerts=[d.alert for d in mine]).send()
            except Exception as exc:  # SMTP refused, DNS, timeout: keep them for the retry
                error = f"{type(exc).__name__}: {exc}"[:300]
                rows.update(
                    status=DeliveryStatus.RETRYING,
                    attempts=F("attempts") + 1,
                    last_error=error,
                    updated_at=now,
                )
                failures.append(f"{owner.email}: {error}")
                continue
            rows.update(
                status=DeliveryStatus.SENT,
                attempts=F("attempts") + 1,
                sent_at=now,
                last_error="",
                updated_at=now,
            )
            sent += 1
    if failures:
        raise DigestError("; ".join(failures))
    return sent


# --- queueing ---------------------------------------------------------------------------------


def deliveries_enqueue(alert_ids: list[int]) -> list[list[int]]:
    """Record where each alert goes, per channel its route names, and queue the Slack
    messages.

    inbox: sent at once (the inbox is the alert row itself); slack: pending, or skipped when
    SLACK_WEBHOOK_URL is empty; email: one row per person whose digest it joins, pending until
    the daily digest. An alert without a route (raised before routing) goes everywhere: the
    digest to its owner, skipped when pooled. The Slack deliveries of one story are grouped into
    one message (one task): an account crossing into red raises a band change, the override
    behind it and a score drop, and the channel hears about it once. Calling it again for the
    same alerts creates and queues nothing. Never raises: a failure is logged and the alerts
    stay in the inbox.
    Returns the queued groups of Slack delivery ids.
    """
    try:
        with transaction.atomic():
            groups = _deliveries_create(alert_ids)
            for ids in groups:
                transaction.on_commit(partial(_enqueue_slack, ids), robust=True)
    except Exception:
        log.exception("could not record the deliveries of alerts %s", alert_ids)
        return []
    return groups


def deliveries_relay_pending(*, now: datetime | None = None) -> int:
    """The beat's sweep of the delivery outbox: queue again the Slack deliveries that were
    recorded but never tried well after their grace (the broker was down when their alert
    committed). A copy queued twice is sent once: the send claims its rows. Returns the
    messages queued."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=grace_seconds() + settings.OUTBOX_SWEEP_SECONDS)
    groups = _slack_groups(AlertDelivery.objects.filter(updated_at__lt=overdue))
    # Stamped in one statement, so the next sweep leaves them to these tasks for an interval.
    AlertDelivery.objects.filter(pk__in=[pk for ids in groups for pk in ids]).update(updated_at=now)
    for ids in groups:
        _enqueue_slack(ids)
    return len(groups)


def _enqueue_slack(delivery_ids: list[int]) -> None:
    try:
        queued_task(DELIVER_ALERT_TASK).apply_async(args=[delivery_ids], countdown=grace_seconds())
    except Retry:  # eager mode with propagation: no worker to retry; the error is recorded
        log.warning(
            "Slack deliveries %s failed and no worker runs retries (eager mode)", delivery_ids
        )
    except Exception:  # broker down (or, when eager, a bug): the deliveries stay pending
        log.exception("could not queue Slack deliveries %s", delivery_ids)
