"""The alert thresholds and the pure decisions of the alert lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.permissions import can_work_item
from playbooks.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Milestone,
)

SCORE_DROP_POINTS = 15
SCORE_DROP_WINDOW_DAYS = 7  # a drop is measured against the score this many days before
RENEWAL_WINDOW_DAYS = 90
COMMIT_THRESHOLDS = (0.7, 0.9)
SPIKE_RATIO = 5.0
SPIKE_TIER = 3  # usage spikes are news on the digital tier (a product-qualified signal)
GREEN = "green"


@dataclass
class Candidate:
    account_id: int
    kind: str
    key: str
    title: str
    detail: str
    data: dict
    owner_id: int | None


@dataclass
class AccountOnDay:
    """What the crossing rules read about one account on `as_of`: its snapshot, the one it is
    compared with (`prev`), and its scores a week before each."""

    as_of: date
    account: Any  # pk, name, tier, csm_id, renewal_date, current_arr, last_end
    snap: Any  # score, band, overrides, facts
    prev: Any | None
    week_ago: int | None
    week_ago_prev: int | None

    def candidate(self, kind: str, key: str, title: str, detail: str, data: dict) -> Candidate:
        snap = self.snap
        return Candidate(
            self.account.pk,
            kind,
            key,
            title,
            detail,
            {"score": snap.score, "band": snap.band, **data},
            self.account.csm_id,
        )


def band_changed(d: AccountOnDay) -> list[Candidate]:
    prev, snap = d.prev, d.snap
    if prev is None or prev.band == snap.band:
        return []
    return [
        d.candidate(
            AlertKind.BAND_CHANGE,
            f"{d.as_of}:{prev.band}>{snap.band}",
            f"{d.account.name} moved {prev.band} → {snap.band}",
            f"Health went from {prev.score} ({prev.band}) to {snap.score} ({snap.band}).",
            {"from_band": prev.band, "from_score": prev.score},
        )
    ]


def overrides_fired(d: AccountOnDay) -> list[Candidate]:
    before = {o["key"] for o in (d.prev.overrides if d.prev else [])}
    return [
        d.candidate(
            AlertKind.OVERRIDE,
            f"{d.as_of}:{override['key']}",
            f"{d.account.name}: {override['key']} override fired "
            f"(health capped at {override['cap_band']})",
            override["detail"],
            {"override": override["key"], "cap_band": override["cap_band"]},
        )
        for override in d.snap.overrides
        if override["key"] not in before
    ]


def score_dropped(d: AccountOnDay) -> list[Candidate]:
    old, score = d.week_ago, d.snap.score
    if old is None or old - score < SCORE_DROP_POINTS:
        return []
    prev_score = d.prev.score if d.prev else None
    if (
        d.week_ago_prev is not None
        and prev_score is not None
        and d.week_ago_prev - prev_score >= SCORE_DROP_POINTS
    ):
        return []  # the drop was already news the day before
    return [
        d.candidate(
            AlertKind.SCORE_DROP,
            f"{d.as_of}",
            f"{d.account.name} dropped {old - score} points in 7 days ({old} → {score})",
            f"Health fell from {old} to {score} in 7 days.",
            {"from_score": old, "points": old - score},
        )
    ]


def renewal_at_risk(d: AccountOnDay) -> list[Candidate]:
    account, snap = d.account, d.snap
    renewal = account.renewal_date
    if not renewal or snap.band == GREEN:
        return []
    signed = account.last_end and account.last_end > renewal
    days_left = (renewal - d.as_of).days
    if signed or not 0 <= days_left <= RENEWAL_WINDOW_DAYS:
        return []
    arr = f" (${account.current_arr:,.0f} ARR)" if account.current_arr else ""
    return [
        d.candidate(
            AlertKind.RENEWAL_RISK,
            f"{renewal}",
            f"{account.name} renews in {days_left} days while {snap.band}",
            f"Renewal on {renewal}{arr} and health is {snap.score} ({snap.band}).",
            {"renewal": renewal.isoformat(), "arr": float(account.current_arr)},
        )
    ]


def already_past(prev_facts: dict | None, period_start: str, threshold: float) -> bool:
    """Whether the snapshot a day is compared with was already at or past `threshold` of the
    same contract period's commit. A catch-up after a backfill compares with the snapshot 30
    days back: an account that crossed 70 % months ago is not news on the day it is caught up
    (the share only grows within a period). Shared with the digital tier's nudges."""
    if not prev_facts or prev_facts.get("period_start") != period_start:
        return False
    share = prev_facts.get("consumed_share")
    return share is not None and share >= threshold


def commit_crossed(d: AccountOnDay) -> list[Candidate]:
    facts = d.snap.facts or {}
    share = facts.get("consumed_share")
    crossed = [t for t in COMMIT_THRESHOLDS if share is not None and share >= t]
    if not crossed or not facts.get("period_start"):
        return []
    # Only the highest threshold crossed: jumping past 70% and 90% at once is one piece of
    # news, and a 90% alert makes a later 70% one pointless.
    threshold = crossed[-1]
    if already_past(d.prev.facts if d.prev else None, facts["period_start"], threshold):
        return []  # crossed before the day it is compared with: old news, not raised now
    return [
        d.candidate(
            AlertKind.COMMIT_THRESHOLD,
            f"{int(threshold * 100)}:{facts['period_start']}",
            f"{d.account.name} crossed {int(threshold * 100)}% of its commit ({share:.0%} used)",
            f"{facts['consumed']:,.0f} of {facts['commit']:,.0f} committed units "
            f"consumed since {facts['period_start']} (contract ends "
            f"{facts['period_end']}).",
            {
                "threshold": threshold,
                "consumed_share": share,
                "consumed": facts["consumed"],
                "commit": facts["commit"],
            },
        )
    ]


def usage_spiked(d: AccountOnDay) -> list[Candidate]:
    facts = d.snap.facts or {}
    spike = facts.get("spike_ratio")
    prev_spike = (d.prev.facts or {}).get("spike_ratio") if d.prev else None
    if d.account.tier != SPIKE_TIER or spike is None or spike < SPIKE_RATIO:
        return []
    if prev_spike is not None and prev_spike >= SPIKE_RATIO:
        return []  # still spiking: news the day it started
    return [
        d.candidate(
            AlertKind.USAGE_SPIKE,
            f"{d.as_of}",
            f"{d.account.name}: usage spiked to {spike:.1f}× its normal level "
            f"(threshold {SPIKE_RATIO:g}×)",
            f"Last 7 days average {facts['units_7'] / 7:,.0f} units/day vs "
            f"{facts['prior_daily_avg']:,.0f} over the 28 days before: a product-qualified "
            "signal for a human to step in.",
            {"spike_ratio": spike},
        )
    ]


# The crossings an account's day can raise, in the order they are raised.
CROSSING_RULES = (
    band_changed,
    overrides_fired,
    score_dropped,
    renewal_at_risk,
    commit_crossed,
    usage_spiked,
)


def onboarding_overdue(*, as_of: date, account: Any, milestone: Milestone) -> Candidate:
    """The alert for a milestone past its due date and not done."""
    return Candidate(
        account.pk,
        AlertKind.ONBOARDING_OVERDUE,
        f"{milestone.key}:{milestone.due}",
        f"{account.name}: {milestone.get_key_display()} milestone overdue (due {milestone.due})",
        f"Due {milestone.due}, {(as_of - milestone.due).days} days ago, not done yet.",
        {"milestone": milestone.key, "due": milestone.due.isoformat()},
        account.csm_id,
    )


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


def alert_values(c: Candidate, as_of: date) -> dict:
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
class JudgedDay:
    """What the resolve pass knows about one account on the day."""

    score: int
    band: str
    overrides: set[str]
    facts: dict
    last_end: date | None = None
    milestones: dict | None = None


def _band_cleared(row, data: dict, day: JudgedDay) -> str:
    band = data.get("band")
    if not band or day.band == band:
        return ""
    back = "back to" if day.band == data.get("from_band") else "now"
    return f"band {back} {day.band} (score {day.score})"


def _override_cleared(row, data: dict, day: JudgedDay) -> str:
    key = data.get("override")
    return f"override {key} no longer fires" if key and key not in day.overrides else ""


def _score_drop_cleared(row, data: dict, day: JudgedDay) -> str:
    before = data.get("from_score")
    if before is None or before - day.score >= SCORE_DROP_POINTS:
        return ""
    return f"score back to {day.score} ({before} before the drop)"


def _renewal_cleared(row, data: dict, day: JudgedDay) -> str:
    renewal = data.get("renewal")
    if not renewal:
        return ""
    if day.last_end and day.last_end > date.fromisoformat(renewal):
        return f"renewal signed: contract now ends {day.last_end.isoformat()}"
    return f"band back to green (score {day.score})" if day.band == GREEN else ""


def _onboarding_cleared(row, data: dict, day: JudgedDay) -> str:
    key = data.get("milestone")
    if not key:
        return ""
    milestones = day.milestones or {}
    if key not in milestones:
        return "milestone removed from the onboarding plan"
    done = milestones[key]
    return f"milestone completed on {done.isoformat()}" if done else ""


def _commit_cleared(row, data: dict, day: JudgedDay) -> str:
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


def _spike_cleared(row, data: dict, day: JudgedDay) -> str:
    spike = day.facts.get("spike_ratio")
    if spike is not None and spike >= SPIKE_RATIO:
        return ""
    return "usage back to normal" if spike is None else f"usage back to {spike:.1f}× normal"


# One rule per alert kind: why its condition no longer holds on the day ("" while it holds).
CLEARED_RULES = {
    AlertKind.BAND_CHANGE: _band_cleared,
    AlertKind.OVERRIDE: _override_cleared,
    AlertKind.SCORE_DROP: _score_drop_cleared,
    AlertKind.RENEWAL_RISK: _renewal_cleared,
    AlertKind.ONBOARDING_OVERDUE: _onboarding_cleared,
    AlertKind.COMMIT_THRESHOLD: _commit_cleared,
    AlertKind.USAGE_SPIKE: _spike_cleared,
}


def cleared_reason(row, day: JudgedDay) -> str:
    """Why this alert's condition no longer holds on the day, or "" while it holds (or when
    the alert lacks the numbers to tell)."""
    rule = CLEARED_RULES.get(row.kind)
    return rule(row, row.data or {}, day) if rule else ""


def can_work_alert(user: User, alert: Alert) -> bool:
    """Who may mark an alert read, acknowledge, snooze or reopen it: its owner; any CSM a
    pooled one; a manager any alert."""
    if not user.is_authenticated:
        return False
    return can_work_item(user, owner_id=alert.owner_id, pooled=True)


can_mark_read = can_work_alert
