"""Digital-tier nudges: events for the product's own messaging, delivered to a signed webhook.

Raised by the recompute (inside its transaction) for tier-3 accounts:
- `throughput_70` / `throughput_90`: 70% / 90% of the committed throughput consumed in the
  contract period (key `70:<period_start>`, so once per period). An account first seen past 90%
  gets the 90% nudge only: two messages on one day say the same thing twice.
- `cross_chain`: at least 80% of the last 28 days' chain-tagged units on Ethereum (and at least
  CROSS_CHAIN_MIN_UNITS of them), and never any usage on Base, Arbitrum or Optimism: "the same
  query runs on Base". Key `ethereum>base`: once per account.
Like alerts, nudges are news: only live recomputes raise them, never a backfill of history.
- `schema_change`: a heads-up before a dataset's schema changes, created elsewhere (the data
  trust code, for tier-3 accounts that queried the dataset) and delivered by the same path:
  any kind is delivered the same way, with its kind in the event name.

Delivery happens after commit, one Celery task per nudge: POST the JSON payload to
settings.NUDGE_WEBHOOK_URL with `X-CSPortal-Signature: sha256=<hex HMAC-SHA256 of the raw body
keyed with NUDGE_WEBHOOK_SECRET>` and `X-CSPortal-Event: nudge.<kind>`. Timeouts, connection
errors and 5xx answers are retried with exponential backoff; a 4xx is final (the receiver
rejected it, sending it again will not help). The outcome is recorded on the Nudge row. With no
URL configured the nudge is marked skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import date, timedelta
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from health.models import HealthSnapshot

from .models import DeliveryStatus, Nudge

log = logging.getLogger(__name__)

LIVE_DAYS = 2
THRESHOLDS = ((0.9, Nudge.Kind.THROUGHPUT_90), (0.7, Nudge.Kind.THROUGHPUT_70))
CROSS_CHAIN_WINDOW = 28
CROSS_CHAIN_SHARE = 0.8
CROSS_CHAIN_MIN_UNITS = 1000
# heavy chain → (the chain we suggest, the sibling chains that mean they already know)
CROSS_CHAIN = {"ethereum": ("base", ("base", "arbitrum", "optimism"))}
CHAIN_NAMES = {
    "ethereum": "Ethereum",
    "base": "Base",
    "arbitrum": "Arbitrum",
    "optimism": "Optimism",
}
MAX_RETRIES = 5
USER_AGENT = "CS-Portal-Nudges/1"


class RetryableDeliveryError(Exception):
    """The receiver timed out, could not be reached or answered 5xx: try again later."""


def _live(as_of: date) -> bool:
    from health.services import last_complete_day

    return as_of >= last_complete_day() - timedelta(days=LIVE_DAYS - 1)


def _tier3_snapshots(as_of: date, account_ids: list[int] | None) -> list[tuple[int, dict, str]]:
    """(account id, the day's facts, the account's external id) of the scored tier-3 accounts."""
    qs = HealthSnapshot.objects.filter(date=as_of, account__tier=3)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    return list(qs.values_list("account_id", "facts", "account__external_id"))


def _cross_chain_heavy(as_of: date, ids: list[int] | None) -> dict[int, dict]:
    """Tier-3 accounts in `ids` (None: every tier-3 account) that lean on one chain and never
    touched its siblings (one query per heavy chain over the usage facts; there is one heavy
    chain today)."""
    out: dict[int, dict] = {}
    if ids is None:
        # The whole book: a subquery rather than an IN list of thousands of ids.
        scope, ids = "SELECT id FROM accounts_account WHERE tier = 3", []
    elif not ids:
        return out
    else:
        scope = ", ".join(["%s"] * len(ids))
    start = as_of - timedelta(days=CROSS_CHAIN_WINDOW)
    for heavy, (target, siblings) in CROSS_CHAIN.items():
        # The window's units first (28 days of one metric: a small share of the facts), then
        # only for the accounts heavy enough, whether they ever touched a sibling chain.
        sql = f"""
            WITH window_units AS (
              SELECT account_id,
                SUM(CASE WHEN chain <> '' THEN value ELSE 0 END) AS total,
                SUM(CASE WHEN chain = %s THEN value ELSE 0 END) AS on_heavy
              FROM health_usagefact
              WHERE metric = 'units' AND date > %s AND date <= %s
                AND account_id IN ({scope})
              GROUP BY account_id
            )
            SELECT w.account_id, w.total, w.on_heavy FROM window_units w
            WHERE w.on_heavy >= %s AND NOT EXISTS (
              SELECT 1 FROM health_usagefact u
              WHERE u.account_id = w.account_id AND u.date <= %s
                AND u.metric <> 'failed_queries'
                AND u.chain IN ({", ".join(["%s"] * len(siblings))})
            )
        """
        params = [heavy, start, as_of, *ids, CROSS_CHAIN_MIN_UNITS, as_of, *siblings]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for account_id, total, on_heavy in cursor.fetchall():
                total, on_heavy = float(total or 0), float(on_heavy or 0)
                if total <= 0:
                    continue
                share = on_heavy / total
                if share >= CROSS_CHAIN_SHARE and account_id not in out:
                    out[account_id] = {
                        "chain": heavy,
                        "suggested_chain": target,
                        "share": round(share, 4),
                        "units_28": round(on_heavy, 1),
                        "window_days": CROSS_CHAIN_WINDOW,
                    }
    return out


def nudge_candidates(*, as_of: date, account_ids: list[int] | None = None) -> list[Nudge]:
    """Unsaved Nudge rows for every crossing on `as_of` (existing ones are filtered later)."""
    rows = _tier3_snapshots(as_of, account_ids)
    if not rows:
        return []
    facts = {account_id: fx for account_id, fx, _ in rows}
    names = {account_id: name for account_id, _, name in rows}
    out: list[Nudge] = []
    for account_id, fx in facts.items():
        fx = fx or {}
        share, period_start = fx.get("consumed_share"), fx.get("period_start")
        if share is None or not period_start:
            continue
        for threshold, kind in THRESHOLDS:
            if share >= threshold:
                pct = int(threshold * 100)
                out.append(
                    Nudge(
                        account_id=account_id,
                        kind=kind,
                        key=f"{pct}:{period_start}",
                        message=(
                            f"You have used {share:.0%} of the throughput you committed to "
                            f"for this period (ends {fx.get('period_end')}). Top up or move "
                            "to a bigger commit to keep your pipelines running."
                        )[:300],
                        payload={
                            "threshold": threshold,
                            "consumed_share": share,
                            "consumed": fx.get("consumed"),
                            "commit": fx.get("commit"),
                            "period_start": period_start,
                            "period_end": fx.get("period_end"),
                        },
                    )
                )
                break
    leaning = _cross_chain_heavy(as_of, None if account_ids is None else list(facts))
    for account_id, hit in leaning.items():
        if account_id not in facts:
            continue  # a tier-3 account not scored that day (lapsed)
        heavy, target = CHAIN_NAMES[hit["chain"]], CHAIN_NAMES[hit["suggested_chain"]]
        out.append(
            Nudge(
                account_id=account_id,
                kind=Nudge.Kind.CROSS_CHAIN,
                key=f"{hit['chain']}>{hit['suggested_chain']}",
                message=(
                    f"You query {heavy} heavily ({hit['share']:.0%} of your units in the last "
                    f"{hit['window_days']} days). The same query runs on {target}: same "
                    "schema, same tables, change one word."
                ),
                payload=hit,
            )
        )
    for nudge in out:
        nudge.payload = {
            "account": names.get(nudge.account_id),
            "as_of": as_of.isoformat(),
            **nudge.payload,
        }
    return out


def nudges_raise(*, as_of: date, account_ids: list[int] | None = None) -> list[Nudge]:
    """Store the day's new nudges (each (account, kind, key) once, ever) and queue their
    delivery after commit. Returns the new ones."""
    if not _live(as_of):
        return []
    candidates = nudge_candidates(as_of=as_of, account_ids=account_ids)
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


def nudges_enqueue(nudge_ids: list[int]) -> None:
    """Queue one delivery task per nudge. A broker outage leaves them pending, not lost."""
    for nudge_id in nudge_ids:
        try:
            deliver_nudge.delay(nudge_id)
        except Exception:  # the recompute already committed; the row stays pending
            log.exception("could not queue delivery of nudge %s", nudge_id)


def nudge_signature(body: bytes, secret: str) -> str:
    """The value of X-CSPortal-Signature for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def nudge_body(nudge: Nudge) -> bytes:
    """The exact bytes POSTed (and signed)."""
    return json.dumps(
        {
            "event": f"nudge.{nudge.kind}",
            "id": nudge.pk,
            "key": nudge.key,
            # Nudges raised here carry the external id in their payload; fall back to the
            # account for those created elsewhere without it.
            "account": nudge.payload.get("account") or nudge.account.external_id,
            "message": nudge.message,
            "data": nudge.payload,
            "created_at": nudge.created_at.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


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


@shared_task(
    bind=True,
    autoretry_for=(RetryableDeliveryError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    acks_late=True,
)
def deliver_nudge(self, nudge_id: int) -> str:
    """Celery entry point: deliver one nudge (retried with backoff on transient failures)."""
    return nudge_deliver(nudge_id=nudge_id, final_attempt=self.request.retries >= MAX_RETRIES)


# ---------------------------------------------------------------------------------------------
# Reads for the nudges page


def nudges_list(*, kind: str = "", status: str = "") -> QuerySet[Nudge]:
    """Nudges newest first, optionally of one kind and delivery status."""
    qs = Nudge.objects.select_related("account").order_by("-created_at", "-id")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs
