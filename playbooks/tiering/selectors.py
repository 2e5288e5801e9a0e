"""Tier proposals from the day's facts, and the tier queue's reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Case, Exists, F, Max, OuterRef, Q, QuerySet, Value, When

from accounts.models import Contact, ContactRole
from accounts.selectors import accounts_with_commercials
from health.models import HealthSnapshot, UsageFact
from playbooks.models import Alert, AlertKind, SuggestionStatus, TierSuggestion

from .rules import (
    EXEC_ENGAGED_DAYS,
    SEATS_TIER,
    SEATS_WINDOW_DAYS,
    SPIKE_ALERT_DAYS,
    TIER_RULES,
    Proposal,
    evidence_lines,
)


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
    seats_full = _seats_full(
        {a.pk: a.seats for a in accounts if a.tier == SEATS_TIER and a.seats}, as_of=as_of
    )
    out: list[Proposal] = []
    for a in accounts:
        rule = TIER_RULES.get(a.tier)
        proposal = rule and rule(
            a, facts.get(a.pk) or {}, as_of=as_of, seats_full=seats_full.get(a.pk)
        )
        if proposal:
            out.append(proposal)
    return out


def _seats_full(seats: dict[int, int], *, as_of: date) -> dict[int, dict]:
    """Per account with a seat count: the peak of daily active users (the largest of the day's
    rows, as the health model reads them) and the number of days at or above the seat count,
    over the last SEATS_WINDOW_DAYS days."""
    out: dict[int, dict] = {}
    if not seats:
        return out
    daily = (
        UsageFact.objects.filter(
            account_id__in=list(seats),
            metric="active_users",
            date__gt=as_of - timedelta(days=SEATS_WINDOW_DAYS),
            date__lte=as_of,
        )
        .values("account_id", "date")
        .annotate(users=Max("value"))
        .order_by()
    )
    for row in daily:
        entry = out.setdefault(row["account_id"], {"peak": 0.0, "days": 0})
        entry["peak"] = max(entry["peak"], row["users"])
        entry["days"] += row["users"] >= seats[row["account_id"]]
    return out


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


@dataclass
class TierQueuePage:
    pending: list[TierSuggestion]
    decided: list[TierSuggestion]


def with_evidence_lines(suggestion: TierSuggestion) -> TierSuggestion:
    """The suggestion with `evidence_lines` set: its evidence as (label, value) for display."""
    suggestion.evidence_lines = evidence_lines(suggestion.evidence)
    return suggestion


def tier_queue_page(*, direction: str = "") -> TierQueuePage:
    """The tier queue: the pending suggestions (of one direction, or all) and the latest
    decided ones, each with its evidence lines."""
    return TierQueuePage(
        pending=[with_evidence_lines(s) for s in tier_queue(direction=direction)],
        decided=[with_evidence_lines(s) for s in tier_decided()],
    )


def tier_suggestion_of(*, pk: int) -> TierSuggestion | None:
    return TierSuggestion.objects.select_related("account").filter(pk=pk).first()
