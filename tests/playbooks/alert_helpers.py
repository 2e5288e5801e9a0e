"""Rows for the alert, delivery and inbox tests: snapshots and alerts as a recompute and
alerts_raise store them, and an email backend whose SMTP server refuses Bob."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from django.core.mail.backends.locmem import EmailBackend

from health.models import HealthSnapshot
from health.services import health_model_current
from playbooks.models import Alert, AlertKind


class FailingForBobBackend(EmailBackend):
    """Like locmem, but the SMTP server refuses Bob's address."""

    def send_messages(self, messages):
        for message in messages:
            if any(to.startswith("bob@") for to in message.to):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"mailbox full")})
        return super().send_messages(messages)


def snapshot(account, day, score: int, band: str, *, overrides=None, facts=None):
    """A stored health snapshot, as a recompute would leave it (only what alerts read)."""
    return HealthSnapshot.objects.update_or_create(
        account=account,
        date=day,
        defaults={
            "model": health_model_current(),
            "score": score,
            "weighted_score": score,
            "band": band,
            "signals": [],
            "overrides": overrides or [],
            "facts": facts or {},
        },
    )[0]


def make_alert(
    account,
    *,
    kind=AlertKind.BAND_CHANGE,
    key="k",
    owner="csm",
    as_of=None,
    created_ago: timedelta | None = None,
    **data,
):
    """An alert row as alerts_raise stores it (owner defaults to the account's CSM)."""
    from datetime import date

    from django.utils import timezone

    as_of = as_of or date.today() - timedelta(days=1)
    alert = Alert.objects.create(
        account=account,
        kind=kind,
        key=key,
        as_of=as_of,
        title=data.pop("title", f"{account.name} moved green → red"),
        detail=data.pop("detail", "Health went from 75 (green) to 32 (red)."),
        data=data or {"score": 32, "band": "red", "from_band": "green", "from_score": 75},
        owner=account.csm if owner == "csm" else owner,
    )
    if created_ago is not None:
        Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - created_ago)
        alert.refresh_from_db()
    return alert
