"""The alert thresholds and the pure decisions of the alert lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.permissions import can_work_item
from playbooks.models import (
    Alert,
    AlertKind,
    AlertStatus,
)

SCORE_DROP_POINTS = 15
RENEWAL_WINDOW_DAYS = 90
COMMIT_THRESHOLDS = (0.7, 0.9)
SPIKE_RATIO = 5.0
LIVE_DAYS = 2  # recomputes of the last complete day (or the one before) raise alerts


@dataclass
class Candidate:
    account_id: int
    kind: str
    key: str
    title: str
    detail: str
    data: dict
    owner_id: int | None


# What reopening an alert clears: it reads as news again.
REOPENED = {
    "status": AlertStatus.OPEN,
    "read_at": None,
    "acknowledged_by": None,
    "acknowledged_at": None,
    "snoozed_until": None,
    "snoozed_by": None,
    "snoozed_at": None,
    "resolved_at": None,
    "resolved_as_of": None,
    "resolved_reason": "",
}


def _values(c: Candidate, as_of: date) -> dict:
    return {
        "as_of": as_of,
        "title": c.title[:200],
        "detail": c.detail,
        "data": c.data,
        "owner_id": c.owner_id,
    }


SNOOZE_MAX_DAYS = 90
SNOOZE_CHOICES = ((1, "1 day"), (3, "3 days"), (7, "1 week"))
NOT_RESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED)


def snooze_until_parse(raw_days: str = "", raw_until: str = "", *, on: date) -> date:
    """The day a snooze ends, from a number of days (1, 3, 7) or a date (YYYY-MM-DD).

    Raises ValidationError with a message for the person snoozing."""
    raw_days, raw_until = (raw_days or "").strip(), (raw_until or "").strip()
    if raw_days:
        allowed = {str(n) for n, _ in SNOOZE_CHOICES}
        if raw_days not in allowed:
            raise ValidationError("Snooze for 1, 3 or 7 days, or pick a date.")
        return on + timedelta(days=int(raw_days))
    if not raw_until:
        raise ValidationError("Pick how long to snooze: 1 day, 3 days, 1 week or a date.")
    try:
        return date.fromisoformat(raw_until)
    except ValueError:
        raise ValidationError(f"'{raw_until[:20]}' is not a date (YYYY-MM-DD).") from None


@dataclass
class _Day:
    """What the resolve pass knows about one account on the day."""

    score: int
    band: str
    overrides: set[str]
    facts: dict
    last_end: date | None = None
    milestones: dict | None = None


def _cleared(row, day: _Day) -> str:
    """Why this alert's condition no longer holds on the day, or "" while it holds (or when
    the alert lacks the numbers to tell)."""
    data = row.data or {}
    kind = row.kind
    if kind == AlertKind.BAND_CHANGE:
        band = data.get("band")
        if not band or day.band == band:
            return ""
        back = "back to" if day.band == data.get("from_band") else "now"
        return f"band {back} {day.band} (score {day.score})"
    if kind == AlertKind.OVERRIDE:
        key = data.get("override")
        return f"override {key} no longer fires" if key and key not in day.overrides else ""
    if kind == AlertKind.SCORE_DROP:
        before = data.get("from_score")
        if before is None or before - day.score >= SCORE_DROP_POINTS:
            return ""
        return f"score back to {day.score} ({before} before the drop)"
    if kind == AlertKind.RENEWAL_RISK:
        renewal = data.get("renewal")
        if not renewal:
            return ""
        if day.last_end and day.last_end > date.fromisoformat(renewal):
            return f"renewal signed: contract now ends {day.last_end.isoformat()}"
        return f"band back to green (score {day.score})" if day.band == "green" else ""
    if kind == AlertKind.ONBOARDING_OVERDUE:
        key = data.get("milestone")
        if not key:
            return ""
        milestones = day.milestones or {}
        if key not in milestones:
            return "milestone removed from the onboarding plan"
        done = milestones[key]
        return f"milestone completed on {done.isoformat()}" if done else ""
    if kind == AlertKind.COMMIT_THRESHOLD:
        threshold, _, period_start = row.key.partition(":")
        if not period_start or data.get("threshold") is None:
            return ""
        if day.facts.get("period_start") != period_start:
            return "commit period ended"
        share = day.facts.get("consumed_share")
        if share is not None and share >= float(data["threshold"]):
            return ""
        used = "no commit use measured" if share is None else f"{share:.0%} used"
        return f"commit use back under {threshold}% ({used})"
    if kind == AlertKind.USAGE_SPIKE:
        spike = day.facts.get("spike_ratio")
        if spike is not None and spike >= SPIKE_RATIO:
            return ""
        return "usage back to normal" if spike is None else f"usage back to {spike:.1f}× normal"
    return ""


def can_work_alert(user: User, alert: Alert) -> bool:
    """Who may mark an alert read, acknowledge, snooze or reopen it: its owner; any CSM a
    pooled one; a manager any alert."""
    if not user.is_authenticated:
        return False
    return can_work_item(user, owner_id=alert.owner_id, pooled=True)


can_mark_read = can_work_alert
