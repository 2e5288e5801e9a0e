"""Reads behind routing: the people around accounts, preferences, the rule history, and the
noise figure (alerts per CSM per week and the share that led to an action)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet

from accounts.models import Account, Role, User
from accounts.permissions import MANAGERS
from cs_portal.clock import last_complete_day
from playbooks.models import (
    Alert,
    Play,
    PlayStatus,
    RoutingPreference,
    RoutingRules,
    Task,
    TaskStatus,
)

from .rules import NO_PREFS, People, Prefs, Rule, direction_of, route, rule_for

ACTED_WITHIN = timedelta(days=2)
NOISE_WEEKS = 4


def routing_history(limit: int = 30) -> QuerySet[RoutingRules]:
    return RoutingRules.objects.select_related("created_by").order_by("-version")[:limit]


def manager_ids() -> tuple[int, ...]:
    return tuple(
        User.objects.filter(is_active=True)
        .filter(Q(role__in=MANAGERS) | Q(is_superuser=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def people_for(account_ids: set[int]) -> dict[int, tuple[int, People]]:
    """The tier and the people (CSM, AE, the CS managers) of each account: two queries."""
    managers = manager_ids()
    return {
        pk: (tier, People(csm_id=csm, ae_id=ae, manager_ids=managers))
        for pk, tier, csm, ae in Account.objects.filter(pk__in=account_ids).values_list(
            "pk", "tier", "csm_id", "ae_id"
        )
    }


def prefs_for(user_ids: set[int] | None = None) -> dict[int, Prefs]:
    """Everyone's mutes (or these people's): one query."""
    qs = RoutingPreference.objects.all()
    if user_ids is not None:
        qs = qs.filter(user_id__in=user_ids)
    return {
        user: Prefs(frozenset(kinds or []), frozenset(channels or []))
        for user, kinds, channels in qs.values_list("user_id", "muted_kinds", "muted_channels")
    }


def preference_of(user: User) -> Prefs:
    return prefs_for({user.pk}).get(user.pk, NO_PREFS)


# --- the noise figure ---------------------------------------------------------------------------


@dataclass
class NoiseRow:
    user_id: int
    name: str
    delivered: int = 0
    acted: int = 0
    at_once: int = 0  # of the delivered, those in the inbox or on Slack (not the digest)
    weeks: float = 1.0

    @property
    def per_week(self) -> float:
        return self.delivered / self.weeks

    @property
    def at_once_per_week(self) -> float:
        return self.at_once / self.weeks

    @property
    def share(self) -> float | None:
        return self.acted / self.delivered if self.delivered else None


@dataclass
class Noise:
    """Alerts delivered per CSM per week over a window and the share that led to an action."""

    since: date
    until: date
    alerts: int = 0
    rows: list[NoiseRow] = field(default_factory=list)
    pooled: int = 0  # alerts that reached only a pool queue (no person)
    silent: int = 0  # alerts that reached nobody (kept on the account, the API, the history)
    channels: Counter = field(default_factory=Counter)  # inbox entries, Slack posts, digest lines

    @property
    def weeks(self) -> float:
        return max(1, (self.until - self.since).days + 1) / 7

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.rows)

    @property
    def acted(self) -> int:
        return sum(r.acted for r in self.rows)

    @property
    def at_once(self) -> int:
        return sum(r.at_once for r in self.rows)

    @property
    def at_once_per_csm_week(self) -> float | None:
        return self.at_once / len(self.rows) / self.weeks if self.rows else None

    @property
    def per_csm_week(self) -> float | None:
        return self.delivered / len(self.rows) / self.weeks if self.rows else None

    @property
    def share(self) -> float | None:
        return self.acted / self.delivered if self.delivered else None


def noise_window(*, until: date | None = None, weeks: int = NOISE_WEEKS) -> tuple[date, date]:
    until = until or last_complete_day()
    return until - timedelta(days=7 * weeks - 1), until


def _alerts_in(since: date, until: date) -> QuerySet[Alert]:
    """The window's alerts with whether each led to an action: a task of its play done, its
    play done, a task on the account completed within two days of it, or acknowledged within
    two days."""
    play_worked = Play.objects.filter(alert=OuterRef("pk")).filter(
        Q(status=PlayStatus.DONE) | Q(tasks__status=TaskStatus.DONE)
    )
    task_done = Task.objects.filter(
        account=OuterRef("account_id"),
        status=TaskStatus.DONE,
        completed_at__gte=OuterRef("created_at"),
        completed_at__lte=OuterRef("created_at") + ACTED_WITHIN,
    )
    acknowledged = Q(
        acknowledged_at__isnull=False, acknowledged_at__lte=F("created_at") + ACTED_WITHIN
    )
    return Alert.objects.filter(as_of__gte=since, as_of__lte=until).annotate(
        play_worked=Exists(play_worked),
        task_done=Exists(task_done),
        acknowledged=ExpressionWrapper(acknowledged, output_field=BooleanField()),
    )


def alert_noise(
    *,
    since: date,
    until: date,
    csm: User | None = None,
    rules: dict[str, Rule] | None = None,
    version: int = 0,
) -> Noise:
    """The noise figure over [since, until] (alert days): per CSM, the alerts that reached
    them on any channel and how many led to an action; with the alerts that reached only a pool
    or nobody, and the count per channel.

    `rules=None` reads what was delivered (each alert's stored routing; an alert from before
    routing reached its owner everywhere). With `rules`, the same alerts are run through those
    rules and today's preferences instead, writing nothing: the routing editor's before/after.
    `csm` narrows the rows to one person. A few queries for the whole window.
    """
    noise = Noise(since=since, until=until)
    csms = User.objects.filter(role=Role.CSM, is_active=True).order_by("name", "email")
    if csm is not None:
        csms = csms.filter(pk=csm.pk)
    rows = {u.pk: NoiseRow(u.pk, u.display_name, weeks=noise.weeks) for u in csms}
    alerts = list(
        _alerts_in(since, until).values(
            "pk",
            "account_id",
            "as_of",
            "kind",
            "data",
            "owner_id",
            "inbox",
            "routing",
            "story",
            "play_worked",
            "task_done",
            "acknowledged",
            "account__tier",
            "account__csm_id",
            "account__ae_id",
        )
    )
    managers = manager_ids()
    prefs = prefs_for() if rules is not None else {}
    slack_stories: set = set()
    for a in alerts:
        noise.alerts += 1
        acted = a["play_worked"] or a["task_done"] or a["acknowledged"]
        if rules is None:
            stored = a["routing"] or {}
            if stored:
                reached = stored.get("reached", [])
                now = {"inbox", "slack"} & set(stored.get("channels", []))
                at_once = stored.get("at_once", reached if now else [])
                channels = stored.get("channels", [])
                lines = len(stored.get("email_to", []))
            else:  # raised before routing: everywhere, to its owner
                reached = at_once = [a["owner_id"]] if a["owner_id"] else []
                channels = ["inbox", "slack", "email"]
                lines = 1 if a["owner_id"] else 0
            pool = not reached and a["inbox"] == "owner" and "inbox" in channels
        else:
            rule = rule_for(
                rules,
                kind=a["kind"],
                direction=direction_of(a["kind"], a["data"]),
                tier=a["account__tier"],
            )
            notice_to = a["owner_id"] if a["kind"] == "expansion_handoff" else None
            people = People(a["account__csm_id"], a["account__ae_id"], managers, notice_to)
            r = route(rule=rule, people=people, prefs=prefs, version=version)
            reached, at_once = list(r.reached), list(r.at_once)
            channels, lines = r.channels, len(r.email_to)
            pool = not reached and r.inbox == "owner"
        if "inbox" in channels:
            noise.channels["inbox"] += 1
        if "slack" in channels:
            # Before stories, one account's alerts of one day went out as one message.
            slack_stories.add(a["story"] or f"{a['account_id']}:{a['as_of']}")
        noise.channels["email"] += lines
        if pool:
            noise.pooled += 1
        elif not reached:
            noise.silent += 1
        for person in set(reached):
            row = rows.get(person)
            if row is not None:
                row.delivered += 1
                row.acted += bool(acted)
                row.at_once += person in at_once
    noise.channels["slack"] = len(slack_stories)
    noise.rows = list(rows.values())
    return noise


@dataclass
class Preview:
    """The same window's alerts under the rules in force and under a draft."""

    before: Noise
    after: Noise

    @property
    def pairs(self) -> list[tuple[NoiseRow, NoiseRow]]:
        return list(zip(self.before.rows, self.after.rows, strict=True))

    @property
    def changed(self) -> bool:
        b, a = self.before, self.after
        return (
            [(r.delivered, r.acted) for r in b.rows] != [(r.delivered, r.acted) for r in a.rows]
            or b.channels != a.channels
            or (b.pooled, b.silent) != (a.pooled, a.silent)
        )


def routing_preview(
    *, current: dict[str, Rule], draft: dict[str, Rule], weeks: int = NOISE_WEEKS
) -> Preview:
    """Re-run the last `weeks` weeks' alerts through the rules in force and through a draft,
    with today's preferences, writing nothing: the noise figure before and after a change."""
    since, until = noise_window(weeks=weeks)
    return Preview(
        before=alert_noise(since=since, until=until, rules=current),
        after=alert_noise(since=since, until=until, rules=draft),
    )
