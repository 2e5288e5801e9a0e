"""Raise nudges and deliver them to the product's webhook."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from health.events import is_live
from playbooks.models import DeliveryStatus, Nudge
from playbooks.queueing import queued_task

from .rules import (
    DELIVER_NUDGE_TASK,
    USER_AGENT,
    RetryableDeliveryError,
    nudge_body,
    nudge_signature,
)
from .selectors import nudge_candidates

log = logging.getLogger(__name__)


def nudges_raise(
    *, as_of: date, account_ids: list[int] | None = None, since_days: int = 1
) -> list[Nudge]:
    """Store the day's new nudges (each (account, kind, key) once, ever) and queue their
    delivery after commit. Returns the new ones. `since_days`: as for alerts, the snapshot a
    throughput crossing is compared with."""
    if not is_live(as_of):
        return []
    candidates = nudge_candidates(as_of=as_of, account_ids=account_ids, since_days=since_days)
    if not candidates:
        return []
    existing = set(
        Nudge.objects.filter(account_id__in={c.account_id for c in candidates}).values_list(
            "account_id", "kind", "key"
        )
    )
    # Crossing 90% covers 70%: a 70% nudge is not sent once the period's 90% one exists.
    covered = {
        (a, k.split(":", 1)[1]) for a, kind, k in existing if kind == Nudge.Kind.THROUGHPUT_90
    }
    fresh = [
        c
        for c in candidates
        if (c.account_id, c.kind, c.key) not in existing
        and not (
            c.kind == Nudge.Kind.THROUGHPUT_70 and (c.account_id, c.key.split(":", 1)[1]) in covered
        )
    ]
    if not fresh:
        return []
    # ignore_conflicts: a second worker raising the same nudge a moment ago wins quietly (its
    # own on-commit hook queues the delivery; the claim in nudge_deliver sends it once).
    Nudge.objects.bulk_create(fresh, ignore_conflicts=True)
    wanted = {(c.account_id, c.kind, c.key) for c in fresh}
    rows = Nudge.objects.filter(
        account_id__in={c.account_id for c in fresh}, kind__in={c.kind for c in fresh}
    )
    ids = [
        pk
        for pk, a, kind, key in rows.values_list("pk", "account_id", "kind", "key")
        if (a, kind, key) in wanted
    ]
    transaction.on_commit(lambda: nudges_enqueue(ids))
    log.info("raised %d nudges as of %s", len(ids), as_of)
    return list(Nudge.objects.filter(pk__in=ids))


def nudges_relay_pending() -> int:
    """The beat's sweep of the nudge outbox: queue again the nudges raised but never tried a
    sweep interval after they were raised (the broker was down when they committed). A nudge
    queued twice is delivered once: the delivery claims it. Returns the nudges queued."""
    overdue = timezone.now() - timedelta(seconds=2 * settings.OUTBOX_SWEEP_SECONDS)
    ids = list(
        Nudge.objects.filter(
            status=DeliveryStatus.PENDING, attempts=0, created_at__lt=overdue
        ).values_list("pk", flat=True)
    )
    nudges_enqueue(ids)
    return len(ids)


def nudges_enqueue(nudge_ids: list[int]) -> None:
    """Queue one delivery task per nudge. A broker outage leaves them pending, not lost."""
    for nudge_id in nudge_ids:
        try:
            queued_task(DELIVER_NUDGE_TASK).delay(nudge_id)
        except Exception:  # the recompute already committed; the row stays pending
            log.exception("could not queue delivery of nudge %s", nudge_id)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bool]:
    """POST and return (status, error, retryable). http.client rather than urllib: urllib
    rewrites header names (X-Csportal-Signature), and receivers may compare them verbatim."""
    timeout = settings.ALERT_HTTP_TIMEOUT
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return 0, f"NUDGE_WEBHOOK_URL is not an http(s) URL: {url[:100]}", False
    connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    conn = connection_class(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        code = response.status
    except TimeoutError:
        return 0, f"timed out after {timeout}s", True
    except (OSError, HTTPException) as exc:
        return 0, f"could not reach the webhook: {exc.__class__.__name__}: {exc}", True
    finally:
        conn.close()
    if 200 <= code < 300:
        return code, "", False
    if code >= 500 or code == 429:
        return code, f"HTTP {code} from the webhook", True
    return code, f"HTTP {code} from the webhook", False


def nudge_deliver(*, nudge_id: int, final_attempt: bool = False) -> str:
    """POST one nudge to the webhook and record the outcome on its row; returns the status.

    Raises RetryableDeliveryError on a timeout, connection error or 5xx unless this is the
    final attempt (then the nudge is marked failed). Sent or skipped nudges are left alone, so a
    duplicate task does nothing.
    """
    nudge = Nudge.objects.filter(pk=nudge_id).first()
    if nudge is None or nudge.status in (DeliveryStatus.SENT, DeliveryStatus.SKIPPED):
        return nudge.status if nudge else "missing"
    url = settings.NUDGE_WEBHOOK_URL
    if not url:
        Nudge.objects.filter(pk=nudge.pk).update(
            status=DeliveryStatus.SKIPPED, last_error="NUDGE_WEBHOOK_URL is not set"
        )
        return DeliveryStatus.SKIPPED
    body = nudge_body(nudge)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-CSPortal-Event": f"nudge.{nudge.kind}",
        "X-CSPortal-Delivery": str(nudge.pk),
    }
    if settings.NUDGE_WEBHOOK_SECRET:
        headers["X-CSPortal-Signature"] = nudge_signature(body, settings.NUDGE_WEBHOOK_SECRET)
    # Claim this attempt: a duplicate task that read the same row loses and sends nothing.
    claimed = Nudge.objects.filter(
        pk=nudge.pk,
        attempts=nudge.attempts,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        return Nudge.objects.values_list("status", flat=True).get(pk=nudge.pk)
    code, error, retryable = _post(url, body, headers)
    if not error:
        Nudge.objects.filter(pk=nudge.pk).update(
            status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
        )
        return DeliveryStatus.SENT
    if retryable and not final_attempt:
        Nudge.objects.filter(pk=nudge.pk).update(
            status=DeliveryStatus.RETRYING, last_error=error[:1000]
        )
        raise RetryableDeliveryError(error)
    Nudge.objects.filter(pk=nudge.pk).update(status=DeliveryStatus.FAILED, last_error=error[:1000])
    log.warning("nudge %s failed for good: %s", nudge.pk, error)
    return DeliveryStatus.FAILED
