"""Reads for the voice of the customer: the ARR-weighted theme list, one theme with its accounts,
items, failures chart data and outcome report, and an account's feedback.

A theme's ARR is the current ARR of its **distinct** accounts (an account with three items, or
three votes, counts once). ARR at risk: those of them red or yellow today or renewing within 180
days. ARR to win: the ARR potential of open expansion opportunities on those accounts whose
thesis depends on the theme's chain or dataset (`arr_to_win`, the one place voc reads
expansion). Every list is a fixed number of queries, whatever the number of themes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Max, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.models import Account, Segment, Touchpoint, TouchpointKind
from accounts.selectors import accounts_with_commercials, with_health
from cs_portal import clock
from cs_portal.params import query_string
from expansion.models import OPEN_STAGES, Opportunity, OpportunityKind, Stage
from health.selectors import usage_on_target

from . import rules
from .models import (
    SEVERITY_RANK,
    FailureDay,
    FeedbackItem,
    FeedbackType,
    LoopTell,
    Source,
    Theme,
    ThemeEvent,
    ThemeStatus,
)

SORTS = ("arr", "arr_at_risk", "arr_to_win", "accounts", "items", "last_activity", "title")
DEFAULT_SORT = "arr"
OUTCOME_BEFORE_DAYS = 28  # failures in the 28 days before shipping: were they blocked?


class FilterError(ValueError):
    """A filter value the theme list does not take; named to the user, answered 400."""


@dataclass
class ThemeFilters:
    type: str = ""
    chain: str = ""
    dataset: str = ""
    status: str = ""
    segment: str = ""
    tier: int | None = None
    source: str = ""
    sort: str = DEFAULT_SORT
    desc: bool = True

    def check(self) -> None:
        problems = []
        if self.type and self.type not in FeedbackType.values:
            problems.append(f"type must be one of {', '.join(FeedbackType.values)}")
        if self.status and self.status not in ThemeStatus.values:
            problems.append(f"status must be one of {', '.join(ThemeStatus.values)}")
        if self.segment and self.segment not in Segment.values:
            problems.append(f"segment must be one of {', '.join(Segment.values)}")
        if self.source and self.source not in Source.values:
            problems.append(f"source must be one of {', '.join(Source.values)}")
        if self.sort not in SORTS:
            problems.append(f"sort must be one of {', '.join(SORTS)}")
        if problems:
            raise FilterError("; ".join(problems))

    def as_query(self, **overrides) -> str:
        values = {
            "type": self.type,
            "chain": self.chain,
            "dataset": self.dataset,
            "status": self.status,
            "segment": self.segment,
            "tier": self.tier or "",
            "source": self.source,
            "sort": ("-" if self.desc else "") + self.sort,
        }
        values.update(overrides)
        return query_string(values)

    @property
    def item_filters(self) -> bool:
        """Whether a filter narrows the items (and so the accounts and ARR) of each theme."""
        return bool(self.segment or self.tier or self.source)


@dataclass
class AccountInfo:
    pk: int
    external_id: str
    name: str
    tier: int
    segment: str
    arr: Decimal
    band: str
    score: int | None
    renewal: date | None
    csm: str

    @property
    def at_risk(self) -> bool:
        soon = clock.today() + timedelta(days=rules.RISK_RENEWAL_DAYS)
        return self.band in rules.RISK_BANDS or (self.renewal is not None and self.renewal <= soon)


@dataclass
class ThemeRow:
    theme: Theme
    accounts: int = 0
    items: int = 0
    arr: Decimal = Decimal(0)
    arr_at_risk: Decimal = Decimal(0)
    arr_to_win: Decimal = Decimal(0)
    last_activity: date | None = None
    account_ids: list[int] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.theme.title


def accounts_info(account_ids: set[int]) -> dict[int, AccountInfo]:
    """Current ARR, band, renewal, tier of these accounts, in one query."""
    if not account_ids:
        return {}
    qs = with_health(accounts_with_commercials().filter(pk__in=account_ids))
    return {
        a["pk"]: AccountInfo(
            pk=a["pk"],
            external_id=a["external_id"],
            name=a["name"],
            tier=a["tier"],
            segment=a["segment"],
            arr=Decimal(a["current_arr"] or 0),
            band=a["health_band"] or "",
            score=a["health_score"],
            renewal=a["renewal_date"],
            csm=a["csm__name"] or a["csm__email"] or "",
        )
        for a in qs.values(
            "pk",
            "external_id",
            "name",
            "tier",
            "segment",
            "current_arr",
            "health_band",
            "health_score",
            "renewal_date",
            "csm__name",
            "csm__email",
        )
    }


def depends_on(theme: Theme, target: str) -> bool:
    """Whether an expansion thesis aimed at `target` (a chain, or a chain.schema.table
    dataset) depends on what the theme is about."""
    if not target or not (theme.chain or theme.dataset):
        return False
    if target in (theme.chain, theme.dataset):
        return True
    if theme.chain and target.startswith(theme.chain + "."):
        return True  # a dataset on the theme's chain
    return bool(theme.dataset) and theme.dataset.startswith(target + ".")  # the dataset's chain


def arr_to_win(theme_accounts: dict[int, set[int]], themes: dict[int, Theme]) -> dict[int, Decimal]:
    """Per theme, the ARR potential of the open breadth opportunities on its accounts whose
    target is the theme's chain or dataset: what shipping it could sell. One query."""
    everyone = {a for ids in theme_accounts.values() for a in ids}
    if not everyone:
        return {}
    opportunities = list(
        Opportunity.objects.filter(
            account_id__in=everyone, stage__in=OPEN_STAGES, kind=OpportunityKind.BREADTH
        ).values_list("account_id", "target", "arr_potential")
    )
    out: dict[int, Decimal] = {}
    for theme_id, ids in theme_accounts.items():
        theme = themes[theme_id]
        out[theme_id] = sum(
            (
                Decimal(arr)
                for account_id, target, arr in opportunities
                if account_id in ids and depends_on(theme, target)
            ),
            Decimal(0),
        )
    return out


def _items(filters: ThemeFilters) -> QuerySet[FeedbackItem]:
    items = FeedbackItem.objects.all()
    if filters.source:
        items = items.filter(source=filters.source)
    if filters.segment:
        items = items.filter(account__segment=filters.segment)
    if filters.tier:
        items = items.filter(account__tier=filters.tier)
    return items


def themes_overview(*, filters: ThemeFilters, theme_ids: list[int] | None = None) -> list[ThemeRow]:
    """The themes matching `filters`, each with its distinct accounts, items, ARR, ARR at risk,
    ARR to win and last activity, sorted as asked. Segment, tier and source narrow the items
    each theme counts (a theme left with none is not listed)."""
    filters.check()
    themes = Theme.objects.filter(merged_into__isnull=True)
    if theme_ids is not None:
        themes = Theme.objects.filter(pk__in=theme_ids)
    if filters.type:
        themes = themes.filter(type=filters.type)
    if filters.chain:
        themes = themes.filter(chain=filters.chain)
    if filters.dataset:
        themes = themes.filter(dataset=filters.dataset)
    if filters.status:
        themes = themes.filter(status=filters.status)
    by_id = {t.pk: t for t in themes}
    pairs = (
        _items(filters)
        .filter(theme_id__in=list(by_id))
        .values_list("theme_id", "account_id")
        .annotate(n=Count("id"), last=Max(Coalesce("last_seen", "date")))
        .order_by()
    )
    # Last activity: the latest item heard (a behavioural one's last failure) or product's latest
    # move on the theme.
    moved = dict(
        ThemeEvent.objects.filter(theme_id__in=list(by_id))
        .values("theme_id")
        .annotate(last=Max("at"))
        .values_list("theme_id", "last")
    )
    rows = {
        pk: ThemeRow(theme=t, last_activity=moved[pk].date() if pk in moved else None)
        for pk, t in by_id.items()
    }
    accounts: dict[int, set[int]] = defaultdict(set)
    for theme_id, account_id, n, last in pairs:
        row = rows[theme_id]
        row.items += n
        accounts[theme_id].add(account_id)
        if last and (row.last_activity is None or last > row.last_activity):
            row.last_activity = last
    info = accounts_info({a for ids in accounts.values() for a in ids})
    to_win = arr_to_win(accounts, by_id)
    for theme_id, ids in accounts.items():
        row = rows[theme_id]
        row.account_ids = sorted(ids, key=lambda a: -info[a].arr if a in info else 0)
        row.accounts = len(ids)
        row.arr = sum((info[a].arr for a in ids if a in info), Decimal(0))
        row.arr_at_risk = sum(
            (info[a].arr for a in ids if a in info and info[a].at_risk), Decimal(0)
        )
        row.arr_to_win = to_win.get(theme_id, Decimal(0))
    found = [r for r in rows.values() if r.items or not filters.item_filters]
    found.sort(key=lambda r: r.theme.title.lower())
    if filters.sort != "title":
        if filters.sort == "last_activity":
            found.sort(key=lambda r: r.last_activity or date.min, reverse=filters.desc)
        else:
            found.sort(key=lambda r: getattr(r, filters.sort), reverse=filters.desc)
    elif filters.desc:
        found.reverse()
    return found


def theme_or_404(key: str) -> Theme:
    theme = Theme.objects.filter(key=key).first() if "\x00" not in key else None
    if theme is None:
        raise Http404("No theme with that key")
    return theme


@dataclass
class ThemeAccount:
    info: AccountInfo
    items: list[FeedbackItem]
    severity: str  # the highest of its items
    tell: LoopTell | None = None


def theme_accounts(theme: Theme) -> tuple[list[ThemeAccount], list[FeedbackItem]]:
    """The theme's accounts (biggest ARR first, each with what it said and its highest
    severity) and its items, newest first."""
    items = list(theme.items.select_related("account", "logged_by").order_by("-date", "-id"))
    grouped: dict[int, list[FeedbackItem]] = defaultdict(list)
    for item in items:
        grouped[item.account_id].append(item)
    info = accounts_info(set(grouped))
    tells = {t.account_id: t for t in theme.tells.select_related("task", "nudge")}
    rows = [
        ThemeAccount(
            info=info[a],
            items=mine,
            severity=max((i.severity for i in mine), key=lambda s: SEVERITY_RANK.get(s, 0)),
            tell=tells.get(a),
        )
        for a, mine in grouped.items()
        if a in info
    ]
    rows.sort(key=lambda r: (-r.info.arr, r.info.name))
    return rows, items


def theme_row(theme: Theme) -> ThemeRow:
    """The list's numbers for one theme (its page's header)."""
    rows = themes_overview(filters=ThemeFilters(), theme_ids=[theme.pk])
    return rows[0] if rows else ThemeRow(theme=theme)


def theme_failures(theme: Theme) -> dict[str, list[tuple[date, int]]]:
    """Failed queries per day of the theme's behavioural items, per account (the top five by
    failures, the rest as "other accounts"), zero-filled from the first day to the last."""
    rows = list(
        FailureDay.objects.filter(item__theme=theme)
        .values_list("date", "item__account__name")
        .annotate(n=Sum("failures"))
        .order_by("date")
    )
    if not rows:
        return {}
    totals: dict[str, int] = defaultdict(int)
    for _, name, n in rows:
        totals[name] += n
    top = set(sorted(totals, key=lambda k: -totals[k])[:5])
    series: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for day, name, n in rows:
        series[name if name in top else "other accounts"][day] += n
    first, last = rows[0][0], max(rows[-1][0], clock.today() - timedelta(days=1))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return {
        name: [(d, values.get(d, 0)) for d in days]
        for name, values in sorted(series.items(), key=lambda kv: -sum(kv[1].values()))
    }


def theme_history(theme: Theme) -> QuerySet[ThemeEvent]:
    return theme.events.select_related("by").order_by("-at", "-id")


def merge_targets(theme: Theme) -> QuerySet[Theme]:
    return Theme.objects.filter(merged_into__isnull=True).exclude(pk=theme.pk).order_by("title")


@dataclass
class OutcomeRow:
    info: AccountInfo
    verdict: str
    failures_before: float
    failures_after: float
    used_after: float
    won: Decimal


@dataclass
class Outcome:
    shipped_on: date
    rows: list[OutcomeRow]
    measurable: bool  # the theme names a chain or dataset usage can be read for

    @property
    def unblocked(self) -> list[OutcomeRow]:
        return [r for r in self.rows if r.verdict == "unblocked"]

    @property
    def unblocked_arr(self) -> Decimal:
        return sum((r.info.arr for r in self.unblocked), Decimal(0))

    @property
    def won(self) -> Decimal:
        return sum((r.won for r in self.rows), Decimal(0))


def outcome_report(theme: Theme) -> Outcome | None:
    """For a shipped theme: per account, whether usage shows it unblocked since the ship date
    (its failed queries on the theme's chain or dataset stopped and use of it started), the
    ARR of the unblocked accounts, and the expansion won on them since. None before shipping."""
    if theme.shipped_on is None:
        return None
    ship = theme.shipped_on
    account_ids = sorted(set(theme.items.values_list("account_id", flat=True)))
    info = accounts_info(set(account_ids))
    measurable = bool(theme.chain or theme.dataset)
    before = usage_on_target(
        account_ids=account_ids,
        start=ship - timedelta(days=OUTCOME_BEFORE_DAYS),
        end=ship - timedelta(days=1),
        chain=theme.chain,
        dataset=theme.dataset,
    )
    after = usage_on_target(
        account_ids=account_ids, start=ship, chain=theme.chain, dataset=theme.dataset
    )

    def failures(totals: dict, account_id: int) -> float:
        return sum(
            v
            for (a, metric, reason), v in totals.items()
            if a == account_id and metric == "failed_queries" and reason in rules.BEHAVIORAL_REASONS
        )

    won = dict(
        Opportunity.objects.filter(account_id__in=account_ids, stage=Stage.WON, closed_on__gte=ship)
        .values("account_id")
        .annotate(total=Sum(Coalesce("won_arr", "arr_potential")))
        .values_list("account_id", "total")
    )
    rows = []
    for account_id in account_ids:
        if account_id not in info:
            continue
        check = rules.Unblocked(
            failures_before=failures(before, account_id),
            failures_after=failures(after, account_id),
            used_after=sum(
                v
                for (a, metric, _), v in after.items()
                if a == account_id and metric in rules.SUCCESS_METRICS
            ),
        )
        rows.append(
            OutcomeRow(
                info=info[account_id],
                verdict=check.verdict if measurable else "no_signal",
                failures_before=check.failures_before,
                failures_after=check.failures_after,
                used_after=check.used_after,
                won=Decimal(won.get(account_id) or 0),
            )
        )
    order = {"unblocked": 0, "not_using": 1, "still_failing": 2, "no_signal": 3}
    rows.sort(key=lambda r: (order[r.verdict], -r.info.arr))
    return Outcome(shipped_on=ship, rows=rows, measurable=measurable)


def account_feedback(*, account: Account) -> list[FeedbackItem]:
    """An account's items, newest first, with their themes (and where a theme was merged)."""
    return list(
        account.feedback.select_related("theme", "theme__merged_into", "logged_by").order_by(
            "-date", "-id"
        )
    )


QBR_NOTES = 5


def qbr_notes(*, account: Account) -> list[Touchpoint]:
    """The account's latest QBR touchpoints with a note: what a CSM turns into items."""
    return list(
        account.touchpoints.filter(kind=TouchpointKind.QBR)
        .exclude(note="")
        .order_by("-date", "-pk")[:QBR_NOTES]
    )


def filter_choices() -> dict:
    themes = Theme.objects.filter(merged_into__isnull=True)
    return {
        "types": FeedbackType.choices,
        "statuses": ThemeStatus.choices,
        "segments": Segment.choices,
        "sources": Source.choices,
        "tiers": [("1", "Tier 1"), ("2", "Tier 2"), ("3", "Tier 3")],
        "chains": [
            (c, c)
            for c in themes.exclude(chain="")
            .values_list("chain", flat=True)
            .distinct()
            .order_by("chain")
        ],
        "datasets": [
            (d, d)
            for d in themes.exclude(dataset="")
            .values_list("dataset", flat=True)
            .distinct()
            .order_by("dataset")
        ],
    }
