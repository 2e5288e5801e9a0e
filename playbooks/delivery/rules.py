"""Delivery's retry budget, timings and errors."""

from __future__ import annotations

import http.client
from datetime import timedelta

from django.conf import settings
from slack_sdk.errors import SlackRequestError

from playbooks.models import (
    DeliveryStatus,
)

# The Celery task (playbooks/tasks.py) that posts one account's new alerts to Slack: queued by
# name, so these services never import the task module that calls them.
DELIVER_ALERT_TASK = "playbooks.delivery.deliver_alert"
MAX_ATTEMPTS = 6  # the first try and 5 retries
RETRY_BACKOFF_SECONDS = 15  # 15, 30, 60, 120, 240 s (with jitter): about 8 minutes in all
# The digest covers a day; the extra hours absorb a late beat run, and the delivery's status
# keeps each alert in exactly one email.
DIGEST_WINDOW = timedelta(hours=36)
OPEN = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
# What a network fault looks like from urllib: timeouts and refused connections are OSErrors
# (URLError is one too), a garbled answer an HTTPException.
NETWORK_ERRORS = (OSError, http.client.HTTPException, SlackRequestError)


class DeliveryError(Exception):
    """A receiver that timed out, could not be reached or answered non-2xx: retry later."""


class DigestError(Exception):
    """At least one CSM's digest could not be sent: retry the run (sent ones are not resent)."""


def grace_seconds() -> int:
    """How long a Slack message waits before its first attempt (ALERT_DELIVERY_GRACE_SECONDS)."""
    return int(getattr(settings, "ALERT_DELIVERY_GRACE_SECONDS", 0) or 0)


def error_text(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc  # URLError wraps the socket's error
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"timed out after {settings.ALERT_HTTP_TIMEOUT} s"
    return f"{type(reason).__name__}: {reason}"[:300]
