"""Routing's writes: rule versions and personal preferences; and the routing of new alerts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from accounts.permissions import can_edit_routing
from cs_portal.models import version_current, version_next
from playbooks.models import RoutingPreference, RoutingRules

from .rules import (
    Route,
    Rule,
    default_rules,
    direction_of,
    prefs_check,
    route,
    rule_for,
    rules_parse,
)
from .selectors import people_for, prefs_for


def routing_current() -> RoutingRules:
    """The version in force (the defaults as version 1 on first use)."""
    return version_current(RoutingRules, rules=default_rules())


def routing_rules_current() -> tuple[int, dict[str, Rule]]:
    """(version, rules by row key) in force."""
    current = routing_current()
    return current.version, rules_parse(current.rules)


@transaction.atomic
def routing_save(*, rules: list[dict], user: User, note: str = "") -> RoutingRules:
    """Save a new version of the routing rules (managers only); earlier ones stay. Alerts
    raised from then on are routed by it. Raises PermissionDenied or ValidationError."""
    if not can_edit_routing(user):
        raise PermissionDenied("Only CS managers change the alert routing.")
    parsed = rules_parse(rules)
    return version_next(
        RoutingRules, user=user, note=note, rules=[r.as_dict() for r in parsed.values()]
    )


def preferences_save(
    *, user: User, muted_kinds: Iterable[str], muted_channels: Iterable[str]
) -> RoutingPreference:
    """Save what a person mutes for themselves. Raises ValidationError for a kind or channel
    that every rule sending it marks required (muting it would not hold anyway)."""
    kinds, channels = sorted(set(muted_kinds)), sorted(set(muted_channels))
    _, rules = routing_rules_current()
    prefs_check(rules, muted_kinds=kinds, muted_channels=channels)
    pref, _ = RoutingPreference.objects.update_or_create(
        user=user, defaults={"muted_kinds": kinds, "muted_channels": channels}
    )
    return pref


@dataclass(frozen=True)
class ToRoute:
    """One alert about to be stored: its account, kind, data, and for a notice the person it
    names."""

    account_id: int
    kind: str
    data: dict
    recipient_id: int | None = None


def routes_for(items: list[ToRoute]) -> list[Route]:
    """Route each alert by the rules in force and its people's preferences (four queries for
    any number of alerts)."""
    if not items:
        return []
    version, rules = routing_rules_current()
    people = people_for({i.account_id for i in items})
    prefs = prefs_for()
    out = []
    for item in items:
        if item.account_id not in people:
            raise ValidationError(f"no account {item.account_id} to route an alert for")
        tier, base = people[item.account_id]
        if item.recipient_id is not None:
            base = replace(base, recipient_id=item.recipient_id)
        rule = rule_for(
            rules, kind=item.kind, direction=direction_of(item.kind, item.data), tier=tier
        )
        out.append(route(rule=rule, people=base, prefs=prefs, version=version))
    return out
