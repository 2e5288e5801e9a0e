"""Writes on accounts. Views, the API and commands call these; nothing else writes."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cs_portal import clock

from .imports import SCORE_RANGES
from .models import Account, ApiToken, Contact, TierChange, Touchpoint, TouchpointKind, User
from .permissions import can_change_tier, can_edit_account

LAST_USED_RESOLUTION = timedelta(minutes=1)


def touchpoint_log(
    *,
    account: Account,
    logged_by: User,
    kind: str,
    on: date,
    note: str = "",
    contact: Contact | None = None,
    score: int | None = None,
) -> Touchpoint:
    """Record a touchpoint from the browser. The caller must own the account (or manage)."""
    if not can_edit_account(logged_by, account):
        raise PermissionDenied("You can only log touchpoints on accounts you own.")
    errors: dict[str, str] = {}
    if kind not in TouchpointKind.values:
        errors["kind"] = "Choose a touchpoint kind."
    if on > clock.today():
        errors["date"] = "A touchpoint cannot be in the future."
    score_error = touchpoint_score_error(kind, score)
    if score_error:
        errors["score"] = score_error
    if contact is not None and contact.account_id != account.pk:
        errors["contact"] = "That contact belongs to another account."
    if errors:
        raise ValidationError(errors)
    return Touchpoint.objects.create(
        account=account,
        date=on,
        kind=kind,
        note=note.strip(),
        contact=contact,
        score=score,
        logged_by=logged_by,
    )


def touchpoint_score_error(kind: str, score: int | None, *, given: bool = False) -> str:
    """Why `score` cannot go with a touchpoint of `kind` ("" if it can). `given`: a score was
    sent that is not a number, which no kind accepts."""
    if kind in SCORE_RANGES:
        low, high = SCORE_RANGES[kind]
        if given or score is None or not low <= score <= high:
            return f"A {kind.upper()} touchpoint needs a score from {low} to {high}."
    elif given or score is not None:
        return "Only NPS and CSAT touchpoints carry a score."
    return ""


@transaction.atomic
def tier_change(*, account: Account, to_tier: int, reason: str, changed_by: User) -> TierChange:
    """Move an account to another tier and write the history row. Managers only, with a reason."""
    if not can_change_tier(changed_by):
        raise PermissionDenied("Only a CS manager can change an account's tier.")
    errors: dict[str, str] = {}
    if to_tier not in (1, 2, 3):
        errors["tier"] = "Choose tier 1, 2 or 3."
    elif to_tier == account.tier:
        errors["tier"] = f"The account is already tier {to_tier}."
    if not reason.strip():
        errors["reason"] = "Say why the tier changes; it goes into the account's history."
    if errors:
        raise ValidationError(errors)
    locked = Account.objects.select_for_update().get(pk=account.pk)
    change = TierChange.objects.create(
        account=locked,
        from_tier=locked.tier,
        to_tier=to_tier,
        reason=reason.strip(),
        changed_by=changed_by,
    )
    locked.tier = to_tier
    locked.save(update_fields=["tier", "updated_at"])
    account.tier = to_tier
    return change


def api_token_create(*, user: User, name: str = "", expires_at: datetime | None = None) -> str:
    """Create an API token for `user` and return it; only its hash is kept, so this is the one
    time anybody sees it."""
    raw = "csp_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, name=name, prefix=raw[:12], token_hash=ApiToken.hash(raw), expires_at=expires_at
    )
    return raw


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of `user`'s own tokens at once; False when it is not theirs or already
    revoked (nothing is written then)."""
    return bool(
        ApiToken.objects.filter(pk=token_id, user=user, revoked=False).update(
            revoked=True, revoked_at=timezone.now()
        )
    )


def api_token_authenticate(*, raw: str) -> User | None:
    """The active user an API call's token belongs to, or None when the token is unknown,
    revoked or expired. Records when the token was last used, at most once a minute: a busy
    script would otherwise write the same row on every call."""
    now = timezone.now()
    found = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash(raw), revoked=False, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if found is None:
        return None
    stale = now - LAST_USED_RESOLUTION
    if found.last_used_at is None or found.last_used_at < stale:
        # Conditional, so concurrent calls of one token write it once.
        ApiToken.objects.filter(pk=found.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
    return found.user
