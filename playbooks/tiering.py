"""Dynamic tiering: the system suggests promotions and relegations with evidence; a manager
approves (the tier changes and history is written) or dismisses.

Rules (DESIGN.md "Triggers · tiering"), evaluated on the day's snapshot facts:
- tier 3 → 2 on a product-qualified signal (a usage spike ≥ 5× the prior 28-day daily average
  with a real baseline, or a usage_spike alert in the last 30 days) or ARR over
  settings.TIER3_PROMOTE_ARR;
- tier 2 → 1 on ARR over settings.TIER2_PROMOTE_ARR or an expansion ceiling: ≥ 90% of the commit
  consumed with more than 25% of the period left, or active users ≥ seats on at least 7 of the
  last 28 days (a seat ceiling; one busy day is not);
- tier 1 → 2 on flat usage (28-day trend ratio ≤ 1.05) with no exec-sponsor engagement in 90 days.

At most one pending suggestion per account (a partial unique constraint). A pending suggestion
for the same move gets today's evidence; one whose from-tier no longer matches the account (a
manager moved it by hand) is withdrawn. A dismissed move is not suggested again for 30 days,
and a tier change made in the last 90 days is not suggested back (a $900k account relegated for
lack of engagement would otherwise be promoted again the next day by the ARR rule).
Only live recomputes (the last complete day, or the one before) refresh suggestions: a backfill
of history must not fill the queue with stale news.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, Exists, F, Max, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import Account, Contact, ContactRole, TierChange, User
from accounts.permissions import can_change_tier
from accounts.selectors import accounts_with_commercials
from accounts.services import tier_change
from health.models import HealthSnapshot, UsageFact

from .models import Alert, AlertKind, SuggestionStatus, TierSuggestion

log = logging.getLogger(__name__)

SPIKE_RATIO = 5.0
SPIKE_ALERT_DAYS = 30
CEILING_SHARE = 0.9
CEILING_PERIOD_LEFT = 0.25
FLAT_TREND_MAX = 1.05
SEATS_FULL_DAYS = 7  # of 28: hitting the seat count once is a busy day, weekly is a ceiling
EXEC_ENGAGED_DAYS = 90
DISMISS_QUIET_DAYS = 30
REVERSAL_QUIET_DAYS = 90
LIVE_DAYS = 2


@dataclass
class Proposal:
    account_id: int
    from_tier: int
    to_tier: int
    reason: str
    evidence: dict = field(default_factory=dict)


def _f(value) -> float | None:
    return None if value is None else float(value)


def tier_proposals(*, as_of: date, account_ids: list[int] | None = None) -> list[Proposal]:
    """What each account's numbers on `as_of` say about its tier (a handful of queries)."""
    snaps = HealthSnapshot.objects.filter(date=as_of)
    if account_ids is not None:
        snaps = snaps.filter(account_id__in=account_ids)
    facts = dict(snaps.values_list("account_id", "facts"))
    if not facts:
        return []
    ids = list(facts)
    since = as_of - timedelta(days=EXEC_ENGAGED_DAYS)
    exec_engaged = Contact.objects.filter(
        account=OuterRef("pk"),
        role=ContactRole.EXEC_SPONSOR,
        last_engaged__gt=since,
        last_engaged__lte=as_of,
    ).filter(Q(left__isnull=True) | Q(left__gt=as_of))
    spike_alert = Alert.objects.filter(
        account=OuterRef("pk"),
        kind=AlertKind.USAGE_SPIKE,
        as_of__gt=as_of - timedelta(days=SPIKE_ALERT_DAYS),
        as_of__lte=as_of,
    )
    scored = accounts_with_commercials(as_of=as_of)
    if account_ids is not None:
        scored = scored.filter(pk__in=ids)
    # Plain rows, not model instances; for the whole book no IN list of every account (the ones
    # not scored that day are skipped below).
    accounts = [
        a
        for a in scored.annotate(
            exec_engaged=Exists(exec_engaged), spike_alert=Exists(spike_alert)
        ).values_list(
            "pk", "tier", "seats", "current_arr", "exec_engaged", "spike_alert", named=True
        )
        if a.pk in facts
    ]
    seats = {a.pk: a.seats for a in accounts if a.tier == 2 and a.seats}
    seat_ids = list(seats)
    seats_full: dict[int, dict] = {}
    if seat_ids:
        # Daily active users (the largest of the day's rows, as the health model reads them),
        # then per account: the peak and the number of days at or above the seat count.
        daily = (
            UsageFact.objects.filter(
                account_id__in=seat_ids,
                metric="active_users",
                date__gt=as_of - timedelta(days=28),
                date__lte=as_of,
            )
            .values("account_id", "date")
            .annotate(users=Max("value"))
            .order_by()
        )
        for row in daily:
            entry = seats_full.setdefault(row["account_id"], {"peak": 0.0, "days": 0})
            entry["peak"] = max(entry["peak"], row["users"])
            entry["days"] += row["users"] >= seats[row["account_id"]]
    t3_arr, t2_arr = settings.TIER3_PROMOTE_ARR, settings.TIER2_PROMOTE_ARR
    out: list[Proposal] = []
    for a in accounts:
        fx = facts.get(a.pk) or {}
        arr = float(a.current_arr or 0)
        base = {"arr": arr}
        if a.tier == 3:
            spike = _f(fx.get("spike_ratio"))
            reasons, ev = [], dict(base)
            if spike is not None and spike >= SPIKE_RATIO:
                reasons.append(
                    f"usage {spike:.1f}× its prior daily average (product-qualified signal)"
                )
                ev.update(
                    spike_ratio=spike,
                    units_7=fx.get("units_7"),
                    prior_daily_avg=fx.get("prior_daily_avg"),
                )
            elif a.spike_alert:
                reasons.append("usage spike alert in the last 30 days (product-qualified signal)")
                ev["usage_spike_alert"] = True
            if arr > t3_arr:
                reasons.append(f"ARR ${arr:,.0f} over the ${t3_arr:,.0f} digital-tier ceiling")
                ev["arr_threshold"] = t3_arr
            if reasons:
                out.append(Proposal(a.pk, 3, 2, "Promote to tier 2: " + "; ".join(reasons), ev))
        elif a.tier == 2:
            reasons, ev = [], dict(base)
            if arr > t2_arr:
                reasons.append(f"ARR ${arr:,.0f} over the ${t2_arr:,.0f} scaled-tier ceiling")
                ev["arr_threshold"] = t2_arr
            share = _f(fx.get("consumed_share"))
            left = _period_left(fx, as_of)
            if (
                share is not None
                and left is not None
                and share >= CEILING_SHARE
                and left > CEILING_PERIOD_LEFT
            ):
                reasons.append(
                    f"{share:.0%} of the commit consumed with {left:.0%} of the period left"
                )
                ev.update(
                    consumed_share=share,
                    period_left=round(left, 3),
                    consumed=fx.get("consumed"),
                    commit=fx.get("commit"),
                )
            full = seats_full.get(a.pk)
            if full and full["days"] >= SEATS_FULL_DAYS:
                reasons.append(
                    f"every one of {a.seats} seats in use on {full['days']} of the last 28 days"
                )
                ev.update(active_users=full["peak"], seats=a.seats, seats_full_days=full["days"])
            if reasons:
                out.append(Proposal(a.pk, 2, 1, "Promote to tier 1: " + "; ".join(reasons), ev))
        elif a.tier == 1:
            trend = _f(fx.get("trend_ratio"))
            if trend is not None and trend <= FLAT_TREND_MAX and not a.exec_engaged:
                out.append(
                    Proposal(
                        a.pk,
                        1,
                        2,
                        f"Relegate to tier 2: usage flat or falling "
                        f"({trend:.2f}× the prior 28 days) "
                        f"and no exec sponsor engaged in {EXEC_ENGAGED_DAYS} days",
                        {**base, "trend_ratio": trend, "exec_engaged_90d": False},
                    )
                )
    return out


def _period_left(fx: dict, as_of: date) -> float | None:
    start, end = fx.get("period_start"), fx.get("period_end")
    if not start or not end:
        return None
    start_d, end_d = date.fromisoformat(start), date.fromisoformat(end)
    total = (end_d - start_d).days + 1
    if total <= 0:
        return None
    return max((end_d - as_of).days, 0) / total


def tier_suggestions_refresh(
    *, as_of: date, account_ids: list[int] | None = None
) -> list[TierSuggestion]:
    """Create, refresh or withdraw pending suggestions from the day's numbers (inside the
    recompute's transaction). Returns the suggestions created."""
    from health.services import last_complete_day

    if as_of < last_complete_day() - timedelta(days=LIVE_DAYS - 1):
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
        raise ValidationError(_already(suggestion))
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
        raise ValidationError(_already(suggestion))
    suggestion.refresh_from_db()
    return suggestion


def _already(suggestion: TierSuggestion) -> str:
    return f"This suggestion was already {suggestion.get_status_display().lower()}."


# ---------------------------------------------------------------------------------------------
# Reads for the queue

EVIDENCE_LABELS = {
    "arr": ("ARR", "${:,.0f}"),
    "arr_threshold": ("ARR threshold", "${:,.0f}"),
    "spike_ratio": ("Spike", "{:.1f}×"),
    "units_7": ("Units, last 7 days", "{:,.0f}"),
    "prior_daily_avg": ("Prior daily average", "{:,.0f} units"),
    "usage_spike_alert": ("Usage spike alert", "in the last 30 days"),
    "consumed_share": ("Commit consumed", "{:.0%}"),
    "period_left": ("Period left", "{:.0%}"),
    "consumed": ("Consumed", "{:,.0f} units"),
    "commit": ("Commit", "{:,.0f} units"),
    "active_users": ("Peak active users (28 d)", "{:,.0f}"),
    "seats": ("Seats", "{:,.0f}"),
    "seats_full_days": ("Days with every seat in use (28 d)", "{:,.0f}"),
    "trend_ratio": ("28-day usage trend", "{:.2f}×"),
    "exec_engaged_90d": ("Exec engaged, 90 d", "no"),
    "as_of": ("As of", "{}"),
}


def evidence_lines(evidence: dict) -> list[tuple[str, str]]:
    """The evidence as label/value pairs a manager reads, in a stable order."""
    lines = []
    for key, (label, fmt) in EVIDENCE_LABELS.items():
        if key not in evidence or evidence[key] is None:
            continue
        value = evidence[key]
        try:
            text = fmt.format(value) if "{" in fmt else fmt
        except (TypeError, ValueError):
            text = str(value)
        lines.append((label, text))
    return lines


def evidence_text(suggestion: TierSuggestion) -> str:
    return "; ".join(
        f"{label} {value}"
        for label, value in evidence_lines(suggestion.evidence)
        if label != "As of"
    )


DIRECTIONS = ("promote", "relegate")


def tier_queue(*, direction: str = "") -> QuerySet[TierSuggestion]:
    """Pending suggestions: promotions first (a customer outgrowing its tier is waiting on
    us), then oldest first. `direction` is "", "promote" or "relegate"."""
    promotion = Case(When(to_tier__lt=F("from_tier"), then=Value(0)), default=Value(1))
    qs = (
        TierSuggestion.objects.filter(status=SuggestionStatus.PENDING)
        .select_related("account", "account__csm")
        .order_by(promotion, "created_at", "id")
    )
    if direction == "promote":
        qs = qs.filter(to_tier__lt=F("from_tier"))
    elif direction == "relegate":
        qs = qs.filter(to_tier__gt=F("from_tier"))
    return qs


def tier_decided(*, limit: int = 20) -> QuerySet[TierSuggestion]:
    """The most recent decisions, newest first."""
    return (
        TierSuggestion.objects.exclude(status=SuggestionStatus.PENDING)
        .select_related("account", "decided_by")
        .order_by("-decided_at", "-id")[:limit]
    )
