"""The tiering thresholds and how a suggestion's evidence reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings

from playbooks.models import TierSuggestion

SPIKE_RATIO = 5.0
SPIKE_ALERT_DAYS = 30
CEILING_SHARE = 0.9
CEILING_PERIOD_LEFT = 0.25
FLAT_TREND_MAX = 1.05
SEATS_WINDOW_DAYS = 28
SEATS_FULL_DAYS = 7  # of 28: hitting the seat count once is a busy day, weekly is a ceiling
EXEC_ENGAGED_DAYS = 90
DISMISS_QUIET_DAYS = 30
REVERSAL_QUIET_DAYS = 90


@dataclass
class Proposal:
    account_id: int
    from_tier: int
    to_tier: int
    reason: str
    evidence: dict = field(default_factory=dict)


def _f(value) -> float | None:
    return None if value is None else float(value)


def _period_left(fx: dict, as_of: date) -> float | None:
    start, end = fx.get("period_start"), fx.get("period_end")
    if not start or not end:
        return None
    start_d, end_d = date.fromisoformat(start), date.fromisoformat(end)
    total = (end_d - start_d).days + 1
    if total <= 0:
        return None
    return max((end_d - as_of).days, 0) / total


def promote_from_digital(
    a: Any, fx: dict, *, as_of: date, seats_full: dict | None
) -> Proposal | None:
    """Tier 3 → 2: a product-qualified signal (a usage spike, or a spike alert lately) or ARR over
    the digital-tier ceiling."""
    arr, ceiling = float(a.current_arr or 0), settings.TIER3_PROMOTE_ARR
    spike = _f(fx.get("spike_ratio"))
    reasons, ev = [], {"arr": arr}
    if spike is not None and spike >= SPIKE_RATIO:
        reasons.append(f"usage {spike:.1f}× its prior daily average (product-qualified signal)")
        ev.update(
            spike_ratio=spike, units_7=fx.get("units_7"), prior_daily_avg=fx.get("prior_daily_avg")
        )
    elif a.spike_alert:
        reasons.append("usage spike alert in the last 30 days (product-qualified signal)")
        ev["usage_spike_alert"] = True
    if arr > ceiling:
        reasons.append(f"ARR ${arr:,.0f} over the ${ceiling:,.0f} digital-tier ceiling")
        ev["arr_threshold"] = ceiling
    if not reasons:
        return None
    return Proposal(a.pk, 3, 2, "Promote to tier 2: " + "; ".join(reasons), ev)


def promote_from_scaled(
    a: Any, fx: dict, *, as_of: date, seats_full: dict | None
) -> Proposal | None:
    """Tier 2 → 1: ARR over the scaled-tier ceiling, or an expansion ceiling (the commit nearly
    consumed early in the period, or every seat in use week after week)."""
    arr, ceiling = float(a.current_arr or 0), settings.TIER2_PROMOTE_ARR
    reasons, ev = [], {"arr": arr}
    if arr > ceiling:
        reasons.append(f"ARR ${arr:,.0f} over the ${ceiling:,.0f} scaled-tier ceiling")
        ev["arr_threshold"] = ceiling
    share = _f(fx.get("consumed_share"))
    left = _period_left(fx, as_of)
    if (
        share is not None
        and left is not None
        and share >= CEILING_SHARE
        and left > CEILING_PERIOD_LEFT
    ):
        reasons.append(f"{share:.0%} of the commit consumed with {left:.0%} of the period left")
        ev.update(
            consumed_share=share,
            period_left=round(left, 3),
            consumed=fx.get("consumed"),
            commit=fx.get("commit"),
        )
    if seats_full and seats_full["days"] >= SEATS_FULL_DAYS:
        reasons.append(
            f"every one of {a.seats} seats in use on {seats_full['days']} of the last "
            f"{SEATS_WINDOW_DAYS} days"
        )
        ev.update(
            active_users=seats_full["peak"], seats=a.seats, seats_full_days=seats_full["days"]
        )
    if not reasons:
        return None
    return Proposal(a.pk, 2, 1, "Promote to tier 1: " + "; ".join(reasons), ev)


def relegate_from_strategic(
    a: Any, fx: dict, *, as_of: date, seats_full: dict | None
) -> Proposal | None:
    """Tier 1 → 2: usage flat or falling and no exec sponsor engaged lately."""
    trend = _f(fx.get("trend_ratio"))
    if trend is None or trend > FLAT_TREND_MAX or a.exec_engaged:
        return None
    return Proposal(
        a.pk,
        1,
        2,
        f"Relegate to tier 2: usage flat or falling ({trend:.2f}× the prior 28 days) "
        f"and no exec sponsor engaged in {EXEC_ENGAGED_DAYS} days",
        {"arr": float(a.current_arr or 0), "trend_ratio": trend, "exec_engaged_90d": False},
    )


# The move each tier's rule may suggest, by the account's current tier.
TIER_RULES = {3: promote_from_digital, 2: promote_from_scaled, 1: relegate_from_strategic}
SEATS_TIER = 2  # seat ceilings are read for the scaled tier only


def already_decided(suggestion: TierSuggestion) -> str:
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
