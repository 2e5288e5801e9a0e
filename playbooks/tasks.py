"""Celery entry points of the playbooks app (autodiscovered): each takes ids and calls a
service. Names are the ones the beat schedule and the workers already know.
"""

from __future__ import annotations

from celery import shared_task

from .delivery.rules import (
    DELIVER_ALERT_TASK,
    MAX_ATTEMPTS,
    RETRY_BACKOFF_SECONDS,
    DeliveryError,
    DigestError,
)
from .delivery.services import deliveries_relay_pending, digests_send, slack_delivery_send
from .nudges.rules import DELIVER_NUDGE_TASK, MAX_RETRIES, RetryableDeliveryError
from .nudges.services import nudge_deliver, nudges_relay_pending

# --- Slack ------------------------------------------------------------------------------------


@shared_task(
    name=DELIVER_ALERT_TASK,
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


# --- email digest -----------------------------------------------------------------------------


@shared_task(
    name="playbooks.delivery.send_digests",
    acks_late=True,
    autoretry_for=(DigestError,),
    retry_backoff=300,
    retry_backoff_max=3600,
    max_retries=3,
)
def send_digests() -> int:
    """Daily (beat): one email per CSM with the alerts not yet emailed."""
    return digests_send()


@shared_task(
    name=DELIVER_NUDGE_TASK,
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


@shared_task(name="playbooks.relay_pending", acks_late=True)
def relay_pending_deliveries() -> int:
    """Every minute (beat): queue the Slack deliveries and nudges a broker outage left pending."""
    return deliveries_relay_pending() + nudges_relay_pending()
