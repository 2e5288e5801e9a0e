"""Reads for the pipeline board, the table, the account's Expansion tab and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, QuerySet, Sum, Value, When
from django.utils import timezone

from accounts.models import Account, Contract, Role, User
from cs_portal import clock
from health import charts
from health import selectors as health_selectors
from health.models import Metric

from .models import (
    OPEN_STAGES,
    Opportunity,
    OpportunityKind,
    Stage,
    StageChange,
    TriggerSettings,
)
from .rules import (
    STAGE_PROBABILITY,
    KindStats,
    WonCheck,
    age_days,
    kind_stats,
    weighted,
    won_arr_check,
)

# Table sorts: query value → order_by fields.
SORTS = {
    "account": ("account__name", "id"),
    "kind": ("kind", "target", "id"),
    "stage": ("stage_rank", "id"),
    "arr": ("arr_potential", "id"),
    "age": ("-created_at", "-id"),
    "owner": ("owner__name", "id"),
    "ae": ("ae__name", "id"),
    "updated": ("updated_at", "id"),
}
STAGE_ORDER = list(Stage.values)
CARDS_PER_COLUMN = 12
EVIDENCE_DAYS = 56  # the evidence charts show the two 28-day windows the triggers compare


@dataclass
class PipelineFilters:
    csm: User | None = None
    ae: User | None = None
    tier: int | None = None
    kind: str = ""
    stage: str = ""
    account: str = ""
    sort: str = "arr"
    desc: bool = True

    def query(self, **overrides) -> dict[str, str]:
        values = {
            "csm": str(self.csm.pk) if self.csm else "",
            "ae": str(self.ae.pk) if self.ae else "",
            "tier": str(self.tier or ""),
            "kind": self.kind,
            "stage": self.stage,
            "account": self.account,
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v}


def opportunities(*, filters: PipelineFilters) -> QuerySet[Opportunity]:
    """Opportunities matching the filters, with account, owner and AE."""
    qs = Opportunity.objects.select_related("account", "owner", "ae")
    if filters.csm is not None:
        qs = qs.filter(owner=filters.csm)
    if filters.ae is not None:
        qs = qs.filter(ae=filters.ae)
    if filters.tier:
        qs = qs.filter(account__tier=filters.tier)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.stage:
        qs = qs.filter(stage=filters.stage)
    if filters.account:
        qs = qs.filter(account__external_id=filters.account)
    return qs


def opportunities_sorted(*, filters: PipelineFilters) -> QuerySet[Opportunity]:
    qs = opportunities(filters=filters).annotate(
        stage_rank=Case(
            *(When(stage=s, then=Value(i)) for i, s in enumerate(STAGE_ORDER)),
            output_field=IntegerField(),
        )
    )
    order = SORTS.get(filters.sort, SORTS["arr"])
    if filters.desc:
        order = tuple(o[1:] if o.startswith("-") else f"-{o}" for o in order)
    return qs.order_by(*order)


@dataclass
class Column:
    stage: str
    label: str
    probability: float
    cards: list = field(default_factory=list)
    count: int = 0
    total: float = 0.0
    weighted_total: float = 0.0
    more: int = 0


def board(*, filters: PipelineFilters) -> list[Column]:
    """The pipeline's columns, one per stage: totals over every matching opportunity (count,
    ARR potential, probability-weighted; won ARR for won), the largest cards first."""
    qs = opportunities(filters=filters)
    columns = {s: Column(s, Stage(s).label, STAGE_PROBABILITY[Stage(s)]) for s in STAGE_ORDER}
    totals = (
        qs.order_by()
        .values("stage")
        .annotate(total=Sum("arr_potential"), won=Sum("won_arr"), count=Count("id"))
    )
    for row in totals:
        col = columns[row["stage"]]
        col.count = row["count"]
        amount = row["won"] if row["stage"] == Stage.WON else row["total"]
        col.total = float(amount or 0)
        col.weighted_total = weighted(Stage(row["stage"]), col.total)
    today = clock.today()
    for stage, col in columns.items():
        cards = list(qs.filter(stage=stage).order_by("-arr_potential", "id")[:CARDS_PER_COLUMN])
        for card in cards:
            card.age = age_days(card.created_at.date(), today)
            card.days_in_stage = age_days(card.stage_changed_at.date(), today)
        col.cards = cards
        col.more = max(col.count - len(cards), 0)
    return list(columns.values())


def header_stats(*, filters: PipelineFilters) -> list[KindStats]:
    """Win rate and average days in each open stage per kind, for the board's header."""
    qs = opportunities(filters=filters)
    rows = qs.values_list("kind", "stage", "won_arr")
    changes = (
        StageChange.objects.filter(opportunity__in=qs.values("pk"))
        .order_by("opportunity_id", "changed_at", "id")
        .values_list("opportunity_id", F("opportunity__kind"), "to_stage", "changed_at")
    )
    stats = kind_stats(rows, changes, now=timezone.now())
    for s in stats.values():
        s.label = OpportunityKind(s.kind).label
    return list(stats.values())


def people(role: str) -> QuerySet[User]:
    return User.objects.filter(role=role, is_active=True).order_by("name", "email")


def filter_choices() -> dict:
    return {
        "csms": [(str(u.pk), u.display_name) for u in people(Role.CSM)],
        "aes": [(str(u.pk), u.display_name) for u in people(Role.AE)],
        "tiers": [("1", "Tier 1"), ("2", "Tier 2"), ("3", "Tier 3")],
        "kinds": list(OpportunityKind.choices),
        "stages": list(Stage.choices),
    }


# --- the account's Expansion tab ---------------------------------------------------------------


def account_opportunities(*, account: Account) -> tuple[list[Opportunity], list[Opportunity]]:
    """The account's open opportunities (largest first) and its past ones (newest first), each
    with its stage history and, once won, whether the next contract shows the ARR."""
    rows = list(
        Opportunity.objects.filter(account=account)
        .select_related("owner", "ae")
        .prefetch_related("changes__changed_by")
        .order_by("-arr_potential", "-created_at")
    )
    today = clock.today()
    for opp in rows:
        opp.age = age_days(opp.created_at.date(), today)
        opp.won_check = won_check(opp) if opp.stage == Stage.WON else None
    open_ = [o for o in rows if o.stage in OPEN_STAGES]
    past = sorted(
        (o for o in rows if o.stage not in OPEN_STAGES),
        key=lambda o: (o.closed_on or date.min, o.pk),
        reverse=True,
    )
    return open_, past


def arr_on(account_id: int, day: date) -> float:
    total = Contract.objects.filter(account_id=account_id, start__lte=day, end__gte=day).aggregate(
        total=Sum("arr")
    )["total"]
    return float(total or Decimal(0))


def won_check(opp: Opportunity) -> WonCheck:
    """Does the ARR won show up in the next contract (the first one starting after the win)?"""
    won_on = opp.closed_on or opp.stage_changed_at.date()
    nxt = (
        Contract.objects.filter(account_id=opp.account_id, start__gt=won_on)
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    return won_arr_check(
        won_arr=float(opp.won_arr or 0),
        arr_before=arr_on(opp.account_id, won_on),
        next_contract=(nxt, arr_on(opp.account_id, nxt)) if nxt else None,
    )


def evidence_chart(opp: Opportunity) -> dict | None:
    """The Health tab's Plotly chart that shows this opportunity's evidence, zoomed on the
    window its trigger compared (the last 56 days up to the evidence day; the contract period
    for a commit upsize)."""
    until = opp.evidence_as_of
    start = until - timedelta(days=EVIDENCE_DAYS - 1)
    account = opp.account
    key = (opp.evidence or {}).get("chart", "")
    if key == "burn_up":
        burn = health_selectors.commit_burn_up(account=account, as_of=until)
        return charts.burn_up(burn) if burn and burn.consumed else None
    if key == "units_chain":
        return charts.stacked_usage(
            health_selectors.usage_by(
                account=account, metric=Metric.UNITS, dimension="chain", start=start, end=until
            ),
            title="Units by chain",
            y_title="Units per day",
            until=until,
        )
    lines = {
        "queries": (Metric.QUERIES, "Queries per day", "Queries", "#3b5bdb"),
        "api_calls": (Metric.API_CALLS, "API calls per day", "API calls", "#9333ea"),
        "users": (Metric.ACTIVE_USERS, "Active users per day", "Active users", "#12805c"),
        "failed_queries": (
            Metric.FAILED_QUERIES,
            "Failed queries per day (every reason)",
            "Failed queries",
            "#c01c28",
        ),
    }
    if key not in lines:
        return None
    metric, title, y_title, color = lines[key]
    return charts.usage_line(
        health_selectors.usage_daily(account=account, metric=metric, start=start, end=until),
        title=title,
        y_title=y_title,
        until=until,
        color=color,
    )


# --- trigger settings ---------------------------------------------------------------------------


def trigger_settings_history(limit: int = 30) -> QuerySet[TriggerSettings]:
    return TriggerSettings.objects.select_related("created_by").order_by("-version")[:limit]


def open_opportunity(*, account: Account, kind: str) -> Opportunity | None:
    """The account's open opportunity of one kind (the largest, if several), or None."""
    return (
        Opportunity.objects.filter(account=account, kind=kind, stage__in=OPEN_STAGES)
        .select_related("owner", "ae")
        .order_by("-arr_potential", "-created_at")
        .first()
    )
