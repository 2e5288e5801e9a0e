"""The tiering thresholds and how a suggestion's evidence reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from playbooks.models import TierSuggestion

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


def _period_left(fx: dict, as_of: date) -> float | None:
    start, end = fx.get("period_start"), fx.get("period_end")
    if not start or not end:
        return None
    start_d, end_d = date.fromisoformat(start), date.fromisoformat(end)
    total = (end_d - start_d).days + 1
    if total <= 0:
        return None
    return max((end_d - as_of).days, 0) / total


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
