"""Nudge thresholds, the webhook's signature and payload."""

from __future__ import annotations

import hashlib
import hmac
import json

from playbooks.models import Nudge

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


# The Celery task (playbooks/tasks.py) that delivers one nudge, queued by name.
DELIVER_NUDGE_TASK = "playbooks.nudges.deliver_nudge"
MAX_RETRIES = 5
USER_AGENT = "CS-Portal-Nudges/1"


class RetryableDeliveryError(Exception):
    """The receiver timed out, could not be reached or answered 5xx: try again later."""


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
