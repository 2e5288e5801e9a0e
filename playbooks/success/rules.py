"""Milestone plans by tier and plan, success-plan fields and time to value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from accounts.models import Plan
from cs_portal.params import whole_number
from playbooks.models import MilestoneKey, SuccessPlan

# ---------------------------------------------------------------------------------------------
# Milestone plans

MILESTONE_OFFSETS: dict[int, dict[str, int]] = {
    1: {
        "value_defined": 7,
        "access_provisioned": 10,
        "first_query": 14,
        "first_api_call": 21,
        "first_stream_event": 21,
        "first_production_pipeline": 30,
        "first_dependent_consumer": 45,
    },
    2: {
        "value_defined": 14,
        "access_provisioned": 14,
        "first_query": 21,
        "first_api_call": 30,
        "first_stream_event": 30,
        "first_production_pipeline": 60,
        "first_dependent_consumer": 90,
    },
    3: {
        "access_provisioned": 3,
        "first_query": 7,
        "first_api_call": 14,
        "first_stream_event": 21,
        "first_production_pipeline": 45,
        "first_dependent_consumer": 90,
    },
}
# Which plan makes which product milestone meaningful (an explorer customer never calls the API).
PLAN_MILESTONES: dict[str, set[str]] = {
    Plan.EXPLORER: {MilestoneKey.FIRST_QUERY},
    Plan.CREDITS: {MilestoneKey.FIRST_QUERY},
    Plan.DEVELOPER: {MilestoneKey.FIRST_API_CALL},
    Plan.DATASTREAMS: {MilestoneKey.FIRST_API_CALL, MilestoneKey.FIRST_STREAM_EVENT},
}
PRODUCT_MILESTONES = {
    MilestoneKey.FIRST_QUERY,
    MilestoneKey.FIRST_API_CALL,
    MilestoneKey.FIRST_STREAM_EVENT,
}
GUIDED_TIERS = (1, 2)  # an SE/CSM walks them through SQL first: first_query on every plan
# The milestones usage can prove, and the metric that proves each.
USAGE_PROOF: dict[str, str] = {
    MilestoneKey.FIRST_QUERY: "queries",
    MilestoneKey.FIRST_API_CALL: "api_calls",
    MilestoneKey.FIRST_STREAM_EVENT: "stream_events",
}
METRIC_WORDS = {"queries": "queries", "api_calls": "API calls", "stream_events": "stream events"}
TTV_MILESTONE = MilestoneKey.FIRST_DEPENDENT_CONSUMER


def milestone_keys_for(*, tier: int, plan: str | None) -> list[str]:
    """The milestone keys a new account of this tier and plan onboards through, in order."""
    wanted = set(PLAN_MILESTONES.get(plan or "", {MilestoneKey.FIRST_QUERY}))
    if tier in GUIDED_TIERS:
        wanted.add(MilestoneKey.FIRST_QUERY)
    return [
        key for key in MILESTONE_OFFSETS[tier] if key not in PRODUCT_MILESTONES or key in wanted
    ]


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------------------------------------
# Success plans

CURRENCIES = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "CHF": "CHF ",
    "SGD": "S$",
    "JPY": "¥",
    "AUD": "A$",
    "CAD": "C$",
    "HKD": "HK$",
    "AED": "AED ",
}
SUCCESS_FIELDS = (
    "outcomes",
    "currency",
    "ftes_saved",
    "infra_avoided_per_year",
    "time_to_market_days",
    "targets",
    "status",
)


def _decimal(raw, *, field: str, errors: dict, places: int, maximum: Decimal) -> Decimal | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        errors[field] = f"'{raw}' is not a number."
        return None
    if not value.is_finite() or value < 0:
        errors[field] = "Give a number of zero or more."
        return None
    if value >= maximum:
        errors[field] = f"That is more than this field can hold (under {maximum:,})."
        return None
    return value.quantize(Decimal(1).scaleb(-places))


def success_plan_validate(*, data: dict) -> dict:
    """Clean the raw values of a success plan; raises ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    outcomes = "\n".join(
        line.strip() for line in str(data.get("outcomes") or "").splitlines() if line.strip()
    )
    if not outcomes:
        errors["outcomes"] = "Write at least one outcome the customer wants (one per line)."
    currency = str(data.get("currency") or "USD").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        errors["currency"] = "Use a three-letter ISO currency code such as USD, EUR or GBP."
    ftes = _decimal(
        data.get("ftes_saved"),
        field="ftes_saved",
        errors=errors,
        places=1,
        maximum=Decimal("100000"),
    )
    infra = _decimal(
        data.get("infra_avoided_per_year"),
        field="infra_avoided_per_year",
        errors=errors,
        places=2,
        maximum=Decimal("1000000000000"),
    )
    ttm = None
    raw_ttm = str(data.get("time_to_market_days") or "").strip()
    if raw_ttm:
        ttm = whole_number(raw_ttm)
        if ttm is None or ttm > 3650:
            errors["time_to_market_days"] = "Give whole days between 0 and 3650."
            ttm = None
    status = str(data.get("status") or SuccessPlan.Status.DRAFT)
    if status not in SuccessPlan.Status.values:
        errors["status"] = "Choose draft, on track, at risk or achieved."
    targets = str(data.get("targets") or "").strip()
    if len(outcomes) > 4000 or len(targets) > 4000:
        errors.setdefault("outcomes", "Keep outcomes and targets under 4,000 characters each.")
    if errors:
        raise ValidationError(errors)
    return {
        "outcomes": outcomes,
        "currency": currency,
        "ftes_saved": ftes,
        "infra_avoided_per_year": infra,
        "time_to_market_days": ttm,
        "targets": targets,
        "status": status,
    }


@dataclass
class TimeToValue:
    start: date | None
    value_on: date | None
    days: int | None  # None until value is reached
    days_so_far: int | None  # onboarding, not there yet: days since start


def ttv_of(*, start: date | None, value_on: date | None, today: date) -> TimeToValue:
    if start is None:
        return TimeToValue(None, value_on, None, None)
    if value_on is not None:
        return TimeToValue(start, value_on, max((value_on - start).days, 0), None)
    return TimeToValue(start, None, None, max((today - start).days, 0))


def optional_date(value) -> date | None:
    return None if value is None else as_date(value)


@dataclass
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        symbol = CURRENCIES.get(self.currency)
        whole = f"{self.amount:,.0f}"
        return f"{symbol}{whole}" if symbol else f"{whole} {self.currency}"


def roi_baseline(plan: SuccessPlan | None) -> list[tuple[str, str]]:
    """The ROI baseline in the customer's currency, as label/value lines for the page."""
    if plan is None:
        return []
    lines = []
    if plan.ftes_saved is not None:
        lines.append(("FTEs saved", f"{plan.ftes_saved.normalize():f} FTE"))
    if plan.infra_avoided_per_year is not None:
        lines.append(
            (
                "Nodes / indexers / infra avoided",
                f"{Money(plan.infra_avoided_per_year, plan.currency)} per year",
            )
        )
    if plan.time_to_market_days is not None:
        lines.append(("Time to market", f"{plan.time_to_market_days} days faster"))
    return lines
