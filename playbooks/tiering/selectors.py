"""Tier proposals from the day's facts, and the tier queue's reads."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db.models import Case, Exists, F, Max, OuterRef, Q, QuerySet, Value, When

from accounts.models import Contact, ContactRole
from accounts.selectors import accounts_with_commercials
from health.models import HealthSnapshot, UsageFact
from playbooks.models import Alert, AlertKind, SuggestionStatus, TierSuggestion

from .rules import (
    CEILING_PERIOD_LEFT,
    CEILING_SHARE,
    EXEC_ENGAGED_DAYS,
    FLAT_TREND_MAX,
    SEATS_FULL_DAYS,
    SPIKE_ALERT_DAYS,
    SPIKE_RATIO,
    Proposal,
    _f,
    _period_left,
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
