"""Who hears about an alert, where: the routing grid, its defaults and the pure decision.

A rule row is one (alert kind, direction, tier): the channels it goes to (inbox, Slack, the
daily email digest; none at all is allowed) and its audience (the owning CSM, the tier's pool,
the CS managers, the account's AE), plus `required`: personal preferences cannot mute it.

`route()` turns one alert's row, the people around its account and their preferences into a
`Route`: who owns it (the inbox's "mine"), whose inbox shows it, whether Slack hears it, who
gets it in the digest, and what preferences muted. No database here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from playbooks.models import AlertKind, Channel, InboxRoute

WORSE, BETTER = "worse", "better"
DIRECTION_LABELS = {WORSE: "worse", BETTER: "better"}
TIERS = (1, 2, 3)
CHANNELS = (Channel.INBOX, Channel.SLACK, Channel.EMAIL)
CHANNEL_LABELS = {Channel.INBOX: "Inbox", Channel.SLACK: "Slack", Channel.EMAIL: "Daily digest"}
CSM, POOL, MANAGER, AE = "csm", "pool", "manager", "ae"
AUDIENCES = (CSM, POOL, MANAGER, AE)
AUDIENCE_LABELS = {
    CSM: "Owning CSM (the pool when none)",
    POOL: "The tier's pool",
    MANAGER: "CS managers",
    AE: "The account's AE",
}

# Which way each kind points: a band change either way; a deterioration otherwise, except the
# signals of growth (commit consumed, a usage spike) and a hand-off, which are good news.
KIND_DIRECTIONS: dict[str, tuple[str, ...]] = {
    AlertKind.BAND_CHANGE: (WORSE, BETTER),
    AlertKind.OVERRIDE: (WORSE,),
    AlertKind.SCORE_DROP: (WORSE,),
    AlertKind.RENEWAL_RISK: (WORSE,),
    AlertKind.ONBOARDING_OVERDUE: (WORSE,),
    AlertKind.COMMIT_THRESHOLD: (BETTER,),
    AlertKind.USAGE_SPIKE: (BETTER,),
    AlertKind.EXPANSION_HANDOFF: (BETTER,),
}
BAND_RANK = {"red": 0, "yellow": 1, "green": 2}


@dataclass(frozen=True)
class Rule:
    kind: str
    direction: str
    tier: int
    channels: tuple[str, ...]
    audience: tuple[str, ...]
    required: bool = False

    @property
    def key(self) -> str:
        return row_key(self.kind, self.direction, self.tier)

    @property
    def silent(self) -> bool:
        return not self.channels or not self.audience

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "direction": self.direction,
            "tier": self.tier,
            "channels": list(self.channels),
            "audience": list(self.audience),
            "required": self.required,
        }


def row_key(kind: str, direction: str, tier: int) -> str:
    return f"{kind}:{direction}:{tier}"


def grid_rows() -> list[tuple[str, str, int]]:
    """Every (kind, direction, tier) the grid holds, in the editor's order."""
    return [
        (kind, direction, tier)
        for kind, directions in KIND_DIRECTIONS.items()
        for direction in directions
        for tier in TIERS
    ]


def _default(kind: str, direction: str, tier: int) -> Rule:
    """What a CS leader would choose: deteriorations of tiers 1-2 reach the owning CSM at once
    (inbox and Slack); tier 3's go to the pool's inbox, never Slack; improvements and growth
    wait for the daily digest; a tier-3 usage spike goes to the pool at once (a human should
    step in); a renewal at risk on tier 1 cannot be muted; a hand-off reaches the AE on every
    channel, as a note addressed to them."""
    inbox, slack, email = Channel.INBOX, Channel.SLACK, Channel.EMAIL
    if kind == AlertKind.EXPANSION_HANDOFF:  # addressed to one person: every channel
        return Rule(kind, direction, tier, (inbox, slack, email), (AE,))
    if kind == AlertKind.USAGE_SPIKE and tier == 3:
        return Rule(kind, direction, tier, (inbox, slack), (POOL,))
    if direction == BETTER:
        return Rule(kind, direction, tier, (email,), (CSM,))
    if tier == 3:
        return Rule(kind, direction, tier, (inbox,), (POOL,))
    required = kind == AlertKind.RENEWAL_RISK and tier == 1
    return Rule(kind, direction, tier, (inbox, slack), (CSM,), required)


def default_rules() -> list[dict]:
    return [_default(*row).as_dict() for row in grid_rows()]


def everywhere_rules() -> list[dict]:
    """Routing as it was before rules existed: every alert to its owner (the AE for a hand-off,
    the pool when unowned) on every channel. The noise benchmark's "before"."""
    return [
        Rule(
            kind,
            direction,
            tier,
            CHANNELS,
            (AE,) if kind == AlertKind.EXPANSION_HANDOFF else (CSM,),
        ).as_dict()
        for kind, direction, tier in grid_rows()
    ]


def _clean_list(raw: Any, allowed: Iterable[str], what: str, where: str) -> tuple[str, ...]:
    values = raw if isinstance(raw, list | tuple) else []
    allowed = tuple(allowed)
    bad = [str(v) for v in values if v not in allowed]
    if bad or not isinstance(raw, list | tuple):
        given = ", ".join(bad) if bad else repr(raw)
        raise ValidationError(f"{where}: {what} must be among {', '.join(allowed)}, not {given}")
    return tuple(v for v in allowed if v in values)  # the grid's order, each once


def rules_parse(raw: Any) -> dict[str, Rule]:
    """A stored or submitted rule set as Rules by row key. Rows the set lacks take their
    default (a kind added later routes sensibly before anyone edits it). Raises
    ValidationError on an unknown row, channel or audience, or a required row that reaches
    nobody."""
    if not isinstance(raw, list):
        raise ValidationError("routing rules must be a list of rows")
    out = {r.key: r for r in (_default(*row) for row in grid_rows())}
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationError("each routing rule must be an object")
        try:
            kind, direction, tier = str(item["kind"]), str(item["direction"]), int(item["tier"])
        except (KeyError, TypeError, ValueError):
            message = "each routing rule needs a kind, a direction and a tier"
            raise ValidationError(message) from None
        key = row_key(kind, direction, tier)
        if key not in out:
            raise ValidationError(f"no routing row for {kind}, {direction}, tier {tier}")
        where = f"{kind} ({direction}, tier {tier})"
        rule = Rule(
            kind,
            direction,
            tier,
            _clean_list(item.get("channels", []), CHANNELS, "channels", where),
            _clean_list(item.get("audience", []), AUDIENCES, "audience", where),
            bool(item.get("required", False)),
        )
        if rule.required and rule.silent:
            raise ValidationError(
                f"{where}: a required row must reach someone on at least one channel"
            )
        out[key] = rule
    return out


def rules_changes(before: Mapping[str, Rule], after: Mapping[str, Rule]) -> list[str]:
    """What changed between two rule sets, in words, for the history list."""
    out = []
    for kind, direction, tier in grid_rows():
        key = row_key(kind, direction, tier)
        a, b = before.get(key), after.get(key)
        if a is None or b is None or a == b:
            continue
        label = f"{AlertKind(kind).label} ({direction}, tier {tier})"
        out.append(f"{label}: {describe(a)} → {describe(b)}")
    return out


def describe(rule: Rule) -> str:
    if rule.silent:
        return "nowhere"
    channels = " + ".join(CHANNEL_LABELS[c] for c in rule.channels)
    audience = ", ".join(AUDIENCE_LABELS[a].split(" (")[0] for a in rule.audience)
    return f"{channels} to {audience}" + (" (required)" if rule.required else "")


# --- one alert ---------------------------------------------------------------------------------


def direction_of(kind: str, data: Mapping | None) -> str:
    """Worse or better: a band change by its bands, every other kind by its nature."""
    directions = KIND_DIRECTIONS.get(kind, (WORSE,))
    if len(directions) == 1:
        return directions[0]
    data = data or {}
    before, after = BAND_RANK.get(data.get("from_band", "")), BAND_RANK.get(data.get("band", ""))
    if before is not None and after is not None and after > before:
        return BETTER
    return WORSE


def rule_for(rules: Mapping[str, Rule], *, kind: str, direction: str, tier: int) -> Rule:
    rule = rules.get(row_key(kind, direction, tier))
    return rule if rule is not None else _default(kind, direction, tier)


@dataclass(frozen=True)
class People:
    """Who is around one account: its CSM and AE, the CS managers, and for a notice the
    person it names (an expansion hand-off's AE)."""

    csm_id: int | None = None
    ae_id: int | None = None
    manager_ids: tuple[int, ...] = ()
    recipient_id: int | None = None


@dataclass(frozen=True)
class Prefs:
    muted_kinds: frozenset[str] = frozenset()
    muted_channels: frozenset[str] = frozenset()

    def mutes(self, kind: str, channel: str) -> bool:
        return kind in self.muted_kinds or channel in self.muted_channels


NO_PREFS = Prefs()


@dataclass
class Route:
    version: int
    rule: str
    required: bool
    owner_id: int | None
    inbox: str
    slack: bool
    email_to: tuple[int, ...]
    reached: tuple[int, ...]
    at_once: tuple[int, ...] = ()  # the people it reaches in the inbox or on Slack, not later
    muted: list[dict] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        out = []
        if self.inbox != InboxRoute.NONE:
            out.append(Channel.INBOX)
        if self.slack:
            out.append(Channel.SLACK)
        if self.email_to:
            out.append(Channel.EMAIL)
        return out

    def as_data(self) -> dict:
        """What the alert keeps of the decision (Alert.routing)."""
        return {
            "version": self.version,
            "rule": self.rule,
            "required": self.required,
            "channels": self.channels,
            "email_to": list(self.email_to),
            "reached": list(self.reached),
            "at_once": list(self.at_once),
            "muted": self.muted,
        }


def route(
    *, rule: Rule, people: People, prefs: Mapping[int, Prefs] | None = None, version: int = 0
) -> Route:
    """Where one alert goes under its rule row, after the preferences of the people it would
    reach (a required row ignores them).

    - the owner is the CSM (or, for the AE audience, the notice's person or the account's AE);
      the CSM audience on an account without one falls to the tier's pool;
    - the inbox shows it to its owner (the pooled queue when unowned and the pool is in the
      audience); only to the managers' whole-team view when managers alone keep it;
    - Slack posts once when anyone it reaches (or the pool) keeps Slack;
    - the digest goes to each person who keeps it (a pool has nobody to email).
    """
    prefs = prefs or {}
    persons: list[int] = []
    owner_id: int | None = None
    pool = False
    for audience in rule.audience:
        if audience == CSM:
            if people.csm_id:
                persons.append(people.csm_id)
                owner_id = owner_id or people.csm_id
            else:
                pool = True
        elif audience == POOL:
            pool = True
        elif audience == AE:
            ae = people.recipient_id or people.ae_id
            if ae:
                persons.append(ae)
                owner_id = owner_id or ae
        elif audience == MANAGER:
            persons += people.manager_ids
    persons = list(dict.fromkeys(persons))
    if owner_id is not None:
        pool = False  # one owner: an owned alert is not in the pooled queue too
    muted: list[dict] = []
    kept: dict[int, set[str]] = {}
    for person in persons:
        mine = prefs.get(person, NO_PREFS)
        kept[person] = set()
        for channel in rule.channels:
            if not rule.required and mine.mutes(rule.kind, channel):
                muted.append({"user": person, "channel": str(channel)})
            else:
                kept[person].add(channel)
    inbox = InboxRoute.NONE
    if Channel.INBOX in rule.channels:
        owner_keeps = owner_id is not None and Channel.INBOX in kept.get(owner_id, ())
        if owner_keeps or (owner_id is None and pool):
            inbox = InboxRoute.OWNER
        elif any(Channel.INBOX in kept[p] for p in persons if p != owner_id):
            inbox = InboxRoute.TEAM
    slack = Channel.SLACK in rule.channels and (
        (pool and owner_id is None) or any(Channel.SLACK in kept[p] for p in persons)
    )
    email_to = tuple(p for p in persons if Channel.EMAIL in kept[p])
    reached = tuple(p for p in persons if kept[p])
    # In the inbox only when the inbox shows it to them: the owner's inbox, or the team view
    # for managers; on Slack when the channel posts it.
    at_once = tuple(
        p
        for p in persons
        if (slack and Channel.SLACK in kept[p])
        or (
            Channel.INBOX in kept[p]
            and (inbox == InboxRoute.OWNER and p == owner_id or inbox == InboxRoute.TEAM)
        )
    )
    return Route(
        version=version,
        rule=rule.key,
        required=rule.required,
        owner_id=owner_id,
        inbox=inbox,
        slack=slack,
        email_to=email_to,
        reached=reached,
        at_once=at_once,
        muted=muted,
    )


# --- preferences -------------------------------------------------------------------------------


def locks(rules: Mapping[str, Rule]) -> dict[str, list[str]]:
    """Per kind and per channel, the required rows that preferences do not mute, in words
    ("tier 1"): the preferences form shows them beside each box."""
    out: dict[str, list[str]] = {}
    for rule in rules.values():
        if not rule.required or rule.silent:
            continue
        where = f"{AlertKind(rule.kind).label.lower()} ({rule.direction}) on tier {rule.tier}"
        out.setdefault(rule.kind, []).append(f"tier {rule.tier}")
        for channel in rule.channels:
            out.setdefault(channel, []).append(where)
    return out


def fully_locked(rules: Mapping[str, Rule], *, kind: str = "", channel: str = "") -> bool:
    """A kind (or channel) that every row reaching anyone marks required: muting it would mute
    nothing, so the form refuses it."""
    rows = [
        r
        for r in rules.values()
        if not r.silent and (r.kind == kind if kind else channel in r.channels)
    ]
    return bool(rows) and all(r.required for r in rows)


def prefs_check(
    rules: Mapping[str, Rule], *, muted_kinds: Iterable[str], muted_channels: Iterable[str]
) -> None:
    """Raises ValidationError for an unknown kind or channel, or one fully locked by required
    rows."""
    kinds, channels = list(muted_kinds), list(muted_channels)
    bad = [k for k in kinds if k not in AlertKind.values] + [
        c for c in channels if c not in CHANNELS
    ]
    if bad:
        raise ValidationError(f"nothing to mute called {', '.join(bad)}")
    locked = [AlertKind(k).label for k in kinds if fully_locked(rules, kind=k)] + [
        CHANNEL_LABELS[c] for c in channels if fully_locked(rules, channel=c)
    ]
    if locked:
        raise ValidationError(
            f"{', '.join(locked)}: every rule that sends it is required, so it cannot be muted"
        )
