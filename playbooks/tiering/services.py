"""Refresh tier suggestions; approve or dismiss one."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.models import Account, TierChange, User
from accounts.permissions import can_change_tier
from accounts.services import tier_change
from health.events import is_live
from playbooks.models import SuggestionStatus, TierSuggestion

from .rules import DISMISS_QUIET_DAYS, REVERSAL_QUIET_DAYS, already_decided, evidence_text
from .selectors import tier_proposals

log = logging.getLogger(__name__)


def tier_suggestions_refresh(
    *, as_of: date, account_ids: list[int] | None = None
) -> list[TierSuggestion]:
    """Create, refresh or withdraw pending suggestions from the day's numbers (inside the
    recompute's transaction). Returns the suggestions created."""
    if not is_live(as_of):
        return []

    def scoped(qs: QuerySet) -> QuerySet:
        # For the whole book no IN list of every account: it costs more than it saves.
        return qs if account_ids is None else qs.filter(account_id__in=account_ids)

    pending_qs = scoped(TierSuggestion.objects.filter(status=SuggestionStatus.PENDING))
    # A manager moved the account by hand: the suggestion no longer describes a move.
    pending_qs.exclude(from_tier=F("account__tier")).delete()
    proposals = tier_proposals(as_of=as_of, account_ids=account_ids)
    if not proposals:
        return []
    pending = {
        s.account_id: s
        for s in pending_qs.values_list(
            "pk", "account_id", "from_tier", "to_tier", "reason", "evidence", named=True
        )
    }
    quiet, reversals = set(), set()
    # Only a proposal without a pending suggestion can become a new one: usually none is.
    if any(p.account_id not in pending for p in proposals):
        quiet = set(
            scoped(
                TierSuggestion.objects.filter(
                    status=SuggestionStatus.DISMISSED,
                    decided_at__gte=timezone.now() - timedelta(days=DISMISS_QUIET_DAYS),
                )
            ).values_list("account_id", "from_tier", "to_tier")
        )
        # A move a manager made recently is not suggested back (no ping-pong between the rules).
        reversals = {
            (a, to, frm)
            for a, frm, to in scoped(
                TierChange.objects.filter(
                    changed_at__gte=timezone.now() - timedelta(days=REVERSAL_QUIET_DAYS)
                )
            ).values_list("account_id", "from_tier", "to_tier")
        }
    created, refreshed = [], []
    for p in proposals:
        p.evidence["as_of"] = as_of.isoformat()
        current = pending.get(p.account_id)
        if current is not None:
            same_move = (current.from_tier, current.to_tier) == (p.from_tier, p.to_tier)
            if same_move and (current.reason, current.evidence) != (p.reason[:200], p.evidence):
                refreshed.append((current.pk, p.reason[:200], p.evidence))
            continue
        if (p.account_id, p.from_tier, p.to_tier) in quiet or (
            p.account_id,
            p.from_tier,
            p.to_tier,
        ) in reversals:
            continue
        created.append(
            TierSuggestion(
                account_id=p.account_id,
                from_tier=p.from_tier,
                to_tier=p.to_tier,
                reason=p.reason[:200],
                evidence=p.evidence,
            )
        )
    _suggestions_update(refreshed)
    if created:
        # Conflicts with a pending suggestion another worker just wrote are skipped.
        TierSuggestion.objects.bulk_create(created, ignore_conflicts=True)
        log.info("suggested %d tier changes as of %s", len(created), as_of)
    return created


_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _suggestions_update(changes: list[tuple[int, str, dict]]) -> None:
    """Write the new (pk, reason, evidence) of pending suggestions (only the changed ones are
    passed: a repeated recompute writes nothing). On PostgreSQL one UPDATE … FROM unnest()
    whatever their number; elsewhere bulk_update in small batches (one UPDATE … CASE over
    thousands of rows grows quadratically)."""
    if not changes:
        return
    if connection.vendor != "postgresql":
        TierSuggestion.objects.bulk_update(
            [TierSuggestion(pk=pk, reason=reason, evidence=ev) for pk, reason, ev in changes],
            ["reason", "evidence"],
            batch_size=200,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE playbooks_tiersuggestion t SET reason = v.reason, evidence = v.evidence::jsonb
            FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, reason, evidence)
            WHERE t.id = v.id
            """,
            [
                [pk for pk, _, _ in changes],
                [reason for _, reason, _ in changes],
                [_json(ev) for _, _, ev in changes],
            ],
        )


def _decide(suggestion: TierSuggestion, user: User, status: str) -> bool:
    """Claim the pending suggestion for this decision; False if someone else decided first."""
    return bool(
        TierSuggestion.objects.filter(
            pk=suggestion.pk,
            status=SuggestionStatus.PENDING,
        ).update(status=status, decided_by=user, decided_at=timezone.now())
    )


@transaction.atomic
def tier_suggestion_approve(
    *, suggestion: TierSuggestion, user: User, note: str = ""
) -> TierSuggestion:
    """Approve: move the account to the suggested tier and write its history (managers only)."""
    if not can_change_tier(user):
        raise PermissionDenied("Only a CS manager can approve tier changes.")
    account = Account.objects.select_for_update().get(pk=suggestion.account_id)
    suggestion.refresh_from_db()
    if suggestion.status != SuggestionStatus.PENDING:
        raise ValidationError(already_decided(suggestion))
    if account.tier != suggestion.from_tier:
        raise ValidationError(
            f"{account.name} is tier {account.tier} now, not tier "
            f"{suggestion.from_tier}: the suggestion no longer applies."
        )
    reason = f"Approved suggestion: {suggestion.reason}. Evidence: {evidence_text(suggestion)}"
    if note.strip():
        reason += f". Note: {note.strip()}"
    tier_change(account=account, to_tier=suggestion.to_tier, reason=reason, changed_by=user)
    _decide(suggestion, user, SuggestionStatus.APPROVED)
    suggestion.refresh_from_db()
    return suggestion


@transaction.atomic
def tier_suggestion_dismiss(*, suggestion: TierSuggestion, user: User) -> TierSuggestion:
    """Dismiss: the tier stays; the same move is not suggested again for 30 days."""
    if not can_change_tier(user):
        raise PermissionDenied("Only a CS manager can dismiss tier suggestions.")
    if not _decide(suggestion, user, SuggestionStatus.DISMISSED):
        suggestion.refresh_from_db()
        raise ValidationError(already_decided(suggestion))
    suggestion.refresh_from_db()
    return suggestion
