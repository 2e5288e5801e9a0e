"""Alert delivery: the in-app inbox, Slack (incoming webhook, Block Kit) and a daily email digest.

Off the hot path. The recompute only creates alerts; after its transaction commits,
`deliveries_enqueue` records one AlertDelivery per channel and queues one Celery task per Slack
message (one message per account and batch of alerts). A receiver that times out, refuses the
connection or answers non-2xx is retried with backoff, and its last error stays on the delivery
(the inbox shows it). Nothing here raises into the recompute, and one failing channel never
holds up another.

Slack messages wait a short grace period (`ALERT_DELIVERY_GRACE_SECONDS`, default 0) before the
first attempt, and every attempt first drops the alerts that were resolved by then (status
`dropped`, "Condition cleared before sending"): the files of one load may arrive minutes apart,
and an alert the next file clears should not reach the channel. The digest leaves resolved
alerts out the same way.
"""

from __future__ import annotations

import http.client
import logging
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone
from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient

from accounts.models import Account, Tier
from accounts.selectors import accounts_with_commercials

from .models import (
    Alert,
    AlertDelivery,
    AlertKind,
    AlertStatus,
    Channel,
    DeliveryStatus,
    MilestoneKey,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # the first try and 5 retries
RETRY_BACKOFF_SECONDS = 15  # 15, 30, 60, 120, 240 s (with jitter): about 8 minutes in all
# The digest covers a day; the extra hours absorb a late beat run, and the delivery's status
# keeps each alert in exactly one email.
DIGEST_WINDOW = timedelta(hours=36)
OPEN = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
# In one account's message, what crossed reads from the headline down.
KIND_ORDER = [
    AlertKind.BAND_CHANGE,
    AlertKind.OVERRIDE,
    AlertKind.SCORE_DROP,
    AlertKind.RENEWAL_RISK,
    AlertKind.COMMIT_THRESHOLD,
    AlertKind.USAGE_SPIKE,
    AlertKind.ONBOARDING_OVERDUE,
]
ACCOUNT_NUMBERS = ("ARR", "Renewal")
MAX_IN_MESSAGE = 10  # alerts quoted in one message (Block Kit allows 50 blocks)
# What a network fault looks like from urllib: timeouts and refused connections are OSErrors
# (URLError is one too), a garbled answer an HTTPException.
NETWORK_ERRORS = (OSError, http.client.HTTPException, SlackRequestError)


class DeliveryError(Exception):
    """A receiver that timed out, could not be reached or answered non-2xx: retry later."""


class DigestError(Exception):
    """At least one CSM's digest could not be sent: retry the run (sent ones are not resent)."""


# --- queueing ---------------------------------------------------------------------------------


def deliveries_enqueue(alert_ids: list[int]) -> list[list[int]]:
    """Record where each alert goes, per channel, and queue the Slack messages.

    inbox: sent at once (the inbox is the alert row itself); slack: pending, or skipped when
    SLACK_WEBHOOK_URL is empty; email: pending until the daily digest, skipped for pooled
    alerts (nobody to email). The Slack deliveries of one account are grouped into one message
    (one task): an account crossing into red raises a band change and the override behind it,
    and the channel hears about it once. Calling it again for the same alerts creates and
    queues nothing. Never raises: a failure is logged and the alerts stay in the inbox.
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


def _deliveries_create(alert_ids: list[int]) -> list[list[int]]:
    alerts = list(
        Alert.objects.filter(pk__in=alert_ids)
        .select_related("owner")
        .only("id", "account_id", "owner__email", "owner__is_active")
    )
    existing = set(
        AlertDelivery.objects.filter(alert_id__in=alert_ids).values_list("alert_id", "channel")
    )
    now = timezone.now()
    slack_on = bool(settings.SLACK_WEBHOOK_URL)
    rows = []
    for alert in alerts:
        emailable = alert.owner is not None and alert.owner.is_active and alert.owner.email
        wanted = {
            Channel.INBOX: {"status": DeliveryStatus.SENT, "attempts": 1, "sent_at": now},
            Channel.SLACK: (
                {"status": DeliveryStatus.PENDING}
                if slack_on
                else {
                    "status": DeliveryStatus.SKIPPED,
                    "last_error": "Slack is not configured (SLACK_WEBHOOK_URL is empty)",
                }
            ),
            Channel.EMAIL: (
                {"status": DeliveryStatus.PENDING}
                if emailable
                else {
                    "status": DeliveryStatus.SKIPPED,
                    "last_error": "pooled alert: no CSM to email",
                }
            ),
        }
        rows += [
            AlertDelivery(alert_id=alert.pk, channel=channel, **values)
            for channel, values in wanted.items()
            if (alert.pk, channel) not in existing
        ]
    AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    new_slack = [
        r.alert_id
        for r in rows
        if r.channel == Channel.SLACK and r.status == DeliveryStatus.PENDING
    ]
    if not new_slack:
        return []
    created = (
        AlertDelivery.objects.filter(
            alert_id__in=new_slack, channel=Channel.SLACK, status=DeliveryStatus.PENDING, attempts=0
        )
        .order_by("alert__account_id", "pk")
        .values_list("alert__account_id", "pk")
    )
    return [[pk for _, pk in group] for _, group in groupby(created, key=lambda r: r[0])]


def grace_seconds() -> int:
    """How long a Slack message waits before its first attempt (ALERT_DELIVERY_GRACE_SECONDS)."""
    return int(getattr(settings, "ALERT_DELIVERY_GRACE_SECONDS", 0) or 0)


def _enqueue_slack(delivery_ids: list[int]) -> None:
    try:
        deliver_alert.apply_async(args=[delivery_ids], countdown=grace_seconds())
    except Retry:  # eager mode with propagation: no worker to retry; the error is recorded
        log.warning(
            "Slack deliveries %s failed and no worker runs retries (eager mode)", delivery_ids
        )
    except Exception:  # broker down (or, when eager, a bug): the deliveries stay pending
        log.exception("could not queue Slack deliveries %s", delivery_ids)


# --- Slack ------------------------------------------------------------------------------------


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(DeliveryError,),
    retry_backoff=RETRY_BACKOFF_SECONDS,
    retry_backoff_max=600,
    max_retries=MAX_ATTEMPTS - 1,
)
def deliver_alert(self, delivery_ids: list[int]) -> str:
    """Post one account's new alerts to Slack as one message; retried with backoff while the
    receiver fails."""
    return slack_delivery_send(
        delivery_ids=delivery_ids, last_try=self.request.retries >= self.max_retries
    )


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
            status=DeliveryStatus.SKIPPED,
            updated_at=now,
            last_error="Slack is not configured (SLACK_WEBHOOK_URL is empty)",
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
        error, retry = _describe(exc), True
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


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc  # URLError wraps the socket's error
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"timed out after {settings.ALERT_HTTP_TIMEOUT} s"
    return f"{type(reason).__name__}: {reason}"[:300]


def account_link(account: Account) -> str:
    return f"{settings.SITE_URL}/accounts/{account.external_id}/health/"


def _esc(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _money(value) -> str:
    return f"${float(value):,.0f}"


def _day(raw) -> str:
    return raw if isinstance(raw, str) else raw.isoformat()


def key_numbers(*, alert: Alert, account: Account | None) -> list[tuple[str, str]]:
    """The numbers behind an alert, as (label, value) pairs: the health score and band (and
    what they were), ARR, renewal, and what crossed (commit used, spike, override, milestone)."""
    data = alert.data or {}
    out: list[tuple[str, str]] = []
    if data.get("score") is not None:
        health = f"{data['score']} · {data.get('band', '')}"
        if data.get("from_score") is not None:
            was = f"{data['from_score']}" + (
                f" · {data['from_band']}" if data.get("from_band") else ""
            )
            health += f" (was {was})"
        out.append(("Health", health))
    if data.get("points"):
        out.append(("Drop", f"−{data['points']} points in 7 days"))
    if data.get("override"):
        out.append(("Override", f"{data['override']} → at most {data.get('cap_band', '')}"))
    if data.get("consumed_share") is not None:
        used = f"{data['consumed_share']:.0%} used"
        if data.get("consumed") is not None and data.get("commit"):
            used += f" ({data['consumed']:,.0f} of {data['commit']:,.0f} units)"
        out.append(("Commit", used))
    if data.get("spike_ratio") is not None:
        out.append(("Usage", f"{data['spike_ratio']:.1f}× its normal level"))
    if data.get("milestone"):
        label = dict(MilestoneKey.choices).get(data["milestone"], data["milestone"])
        out.append(("Milestone", f"{label}, due {data.get('due', '?')}"))
    arr = data.get("arr", getattr(account, "current_arr", None))
    if arr is not None:
        out.append(("ARR", _money(arr)))
    renewal = data.get("renewal") or getattr(account, "renewal_date", None)
    if renewal:
        days = (datetime.fromisoformat(_day(renewal)).date() - alert.as_of).days
        out.append(("Renewal", f"{_day(renewal)} ({days} days)"))
    return out


def slack_message(*, alerts: list[Alert]) -> dict:
    """One Block Kit message for one account's new alerts: the account, what crossed, why in
    numbers, and a button to the account's health page. Returns {"text", "blocks"}."""
    alerts = sorted(alerts, key=lambda a: (KIND_ORDER.index(a.kind), a.pk))[:MAX_IN_MESSAGE]
    first = alerts[0]
    account = (
        accounts_with_commercials(as_of=first.as_of).filter(pk=first.account_id).first()
        or first.account
    )
    link = account_link(account)
    owner = first.owner.display_name if first.owner_id and first.owner else "pooled queue"
    numbers: dict[str, str] = {}
    for alert in alerts:
        for label, value in key_numbers(alert=alert, account=account):
            numbers.setdefault(label, value)
    # What crossed first, then the account's money and date.
    ordered = sorted(numbers.items(), key=lambda item: item[0] in ACCOUNT_NUMBERS)
    fields = [
        {"type": "mrkdwn", "text": f"*{_esc(label)}*\n{_esc(value)}"} for label, value in ordered
    ][:10]
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": account.name[:150], "emoji": True},
        },
    ]
    blocks += [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{_esc(a.title)}*\n{_esc(a.detail)}"[:3000]},
        }
        for a in alerts
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    crossed = " + ".join(dict.fromkeys(AlertKind(a.kind).label for a in alerts))
    blocks += [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _esc(
                        f"{crossed} · as of {first.as_of} · {Tier(account.tier).label} · "
                        f"owner: {owner}"
                    ),
                }
            ],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open_account",
                    "url": link,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Open account health"},
                }
            ],
        },
    ]
    return {"text": f"{account.name}: " + "; ".join(a.title for a in alerts), "blocks": blocks}


# --- email digest -----------------------------------------------------------------------------


@shared_task(
    acks_late=True,
    autoretry_for=(DigestError,),
    retry_backoff=300,
    retry_backoff_max=3600,
    max_retries=3,
)
def send_digests() -> int:
    """Daily (beat): one email per CSM with the alerts not yet emailed."""
    return digests_send()


def digests_send(*, now: datetime | None = None) -> int:
    """Send each CSM one email listing their alerts of the last day that no digest carried yet
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
    pending = list(
        AlertDelivery.objects.filter(
            channel=Channel.EMAIL,
            status__in=OPEN,
            alert__created_at__gte=since,
            alert__owner__isnull=False,
            alert__owner__is_active=True,
        )
        .select_related("alert__account", "alert__owner")
        .order_by("alert__owner_id", "-alert__created_at", "-alert_id")
    )
    sent, failures = 0, []
    for _, group in groupby(pending, key=lambda d: d.alert.owner_id):
        deliveries = list(group)
        owner = deliveries[0].alert.owner
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


def digest_email(*, owner, alerts: list[Alert]) -> EmailMultiAlternatives:
    """One CSM's digest: a plain-text body and a simple HTML alternative."""
    count = len(alerts)
    subject = f"CS Portal: {count} new alert{'s' if count != 1 else ''} on your accounts"
    items = [{"alert": a, "link": account_link(a.account)} for a in alerts]
    lines = [
        f"Hi {owner.display_name},",
        "",
        f"{count} alert{'s' if count != 1 else ''} on your accounts since the last digest:",
        "",
    ]
    for item in items:
        a = item["alert"]
        lines += [f"* {a.account.name}: {a.title}", f"  {a.detail}", f"  {item['link']}", ""]
    lines += [f"Your inbox: {settings.SITE_URL}/inbox/"]
    html = render_to_string(
        "playbooks/alerts_digest_email.html",
        {
            "owner": owner,
            "items": items,
            "count": count,
            "inbox_url": f"{settings.SITE_URL}/inbox/",
        },
    )
    email = EmailMultiAlternatives(
        subject=subject,
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[owner.email],
    )
    email.attach_alternative(html, "text/html")
    return email
