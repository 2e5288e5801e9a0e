"""Reads for the book, the account page and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from cs_portal import clock
from cs_portal.params import query_string

from .extensions import NO_SCORES, book_scores
from .models import Account, ApiToken, Contact, ContactRole, Contract, Role, Touchpoint, User
from .permissions import can_change_tier, can_edit_account

QUIET_AFTER_DAYS = 60
RENEWAL_WINDOWS = {"30": 30, "60": 60, "90": 90, "180": 180, "365": 365}
SORTS = {
    # Riskiest first: red, then yellow, green, unscored; within a band the biggest 7-day drop;
    # then the nearest renewal.
    "risk": ("band_rank", "score_change_7d", "renewal_date", "name"),
    "health": ("health_score", "name"),
    "name": ("name",),
    "tier": ("tier", "name"),
    "plan": ("current_plan", "name"),
    "arr": ("current_arr", "name"),
    "renewal": ("renewal_date", "name"),
    "csm": ("csm__name", "name"),
}
DEFAULT_SORT = "risk"
BANDS = ("red", "yellow", "green", "unscored")


def today() -> date:
    return clock.today()


def accounts_with_commercials(*, as_of: date | None = None) -> QuerySet[Account]:
    """Accounts annotated with the ARR, plan, commit and renewal date derived from contracts.

    ARR on a date is the sum over contracts active that day; plan and commit come from the
    active contract that started last; the renewal date is the latest end among active ones.
    """
    on = as_of or today()
    active = Contract.objects.filter(account=OuterRef("pk"), start__lte=on, end__gte=on)
    arr = active.order_by().values("account").annotate(total=Sum("arr")).values("total")
    latest = active.order_by("-start")
    money = DecimalField(max_digits=14, decimal_places=2)
    return Account.objects.select_related("csm", "ae", "se").annotate(
        current_arr=Coalesce(
            Subquery(arr, output_field=money), Value(Decimal(0)), output_field=money
        ),
        current_plan=Subquery(latest.values("plan")[:1]),
        current_commit=Subquery(latest.values("commit_units")[:1]),
        period_start=Subquery(latest.values("start")[:1]),
        renewal_date=Subquery(active.order_by("-end").values("end")[:1]),
    )


class FilterError(ValueError):
    """A query-string value the book does not understand; shown to the user, answered 400."""


@dataclass
class BookFilters:
    tier: int | None = None
    segment: str = ""
    plan: str = ""
    csm: str = ""  # "", "me", "none" or a user id
    renewal: str = ""  # "", a window in days, or "lapsed"
    band: str = ""  # "", a band, or "unscored"
    q: str = ""
    sort: str = DEFAULT_SORT
    desc: bool = False
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def as_query(self, **overrides) -> str:
        values = {
            "tier": self.tier or "",
            "segment": self.segment,
            "plan": self.plan,
            "csm": self.csm,
            "renewal": self.renewal,
            "band": self.band,
            "q": self.q,
            "sort": ("-" if self.desc else "") + self.sort,
            "page": self.page,
        }
        values.update(overrides)
        return query_string(values)

    @property
    def active_count(self) -> int:
        return sum(
            bool(v)
            for v in (self.tier, self.segment, self.plan, self.csm, self.renewal, self.band, self.q)
        )


def book_accounts(*, filters: BookFilters, user: User) -> QuerySet[Account]:
    """The accounts of the book matching `filters`, sorted as asked."""
    on = today()
    qs = with_health(accounts_with_commercials(as_of=on))
    if filters.band == "unscored":
        qs = qs.filter(health_band__isnull=True)
    elif filters.band:
        qs = qs.filter(health_band=filters.band)
    if filters.tier:
        qs = qs.filter(tier=filters.tier)
    if filters.segment:
        qs = qs.filter(segment=filters.segment)
    if filters.plan:
        qs = qs.filter(current_plan=filters.plan)
    if filters.csm == "me":
        qs = qs.filter(csm=user)
    elif filters.csm == "none":
        qs = qs.filter(csm__isnull=True)
    elif filters.csm:
        qs = qs.filter(csm_id=int(filters.csm))
    if filters.renewal == "lapsed":
        qs = qs.filter(renewal_date__isnull=True)
    elif filters.renewal:
        horizon = on + timedelta(days=RENEWAL_WINDOWS[filters.renewal])
        qs = qs.filter(renewal_date__gte=on, renewal_date__lte=horizon)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q) | Q(external_id__icontains=filters.q))
    order = []
    for name in SORTS[filters.sort]:
        tie_breaker = name == "name" and filters.sort != "name"
        if filters.desc and not tie_breaker:
            order.append(F(name).desc(nulls_last=True))
        else:
            order.append(F(name).asc(nulls_last=True))
    return qs.order_by(*order)


def health_as_of() -> date | None:
    """The day the book's health is shown for: the latest scored day."""
    return book_scores().as_of()


def with_health(qs: QuerySet[Account], as_of: date | None = None) -> QuerySet[Account]:
    """Annotate the health of `as_of` (default: the latest scored day) and the change in score
    over 7 days, for sorting riskiest first; unscored when nothing is scored yet."""
    scores = book_scores()
    day = as_of or scores.as_of()
    if day is None:
        return NO_SCORES.annotate(qs, None)
    return scores.annotate(qs, day)


def book_summary(qs: QuerySet[Account]) -> dict:
    """Totals for the filtered book: accounts, ARR, renewals in the next 90 days, red.

    Summed here over one row per account rather than in one SQL aggregate: an aggregate with a
    FILTER per total makes the database recompute an account's ARR and renewal subqueries once
    per total that reads them (four times for the renewal date), which made this the slowest
    query of the book at 5,000 accounts."""
    on = today()
    horizon = on + timedelta(days=90)
    if "health_band" not in qs.query.annotations:
        qs = with_health(qs)
    totals = {
        "accounts": 0,
        "arr": Decimal(0),
        "renewing": 0,
        "renewing_arr": Decimal(0),
        "red": 0,
        "red_arr": Decimal(0),
    }
    for arr, renewal, band in qs.order_by().values_list(
        "current_arr", "renewal_date", "health_band"
    ):
        totals["accounts"] += 1
        totals["arr"] += arr
        if renewal is not None and on <= renewal <= horizon:
            totals["renewing"] += 1
            totals["renewing_arr"] += arr
        if band == "red":
            totals["red"] += 1
            totals["red_arr"] += arr
    return totals


def csm_choices() -> QuerySet[User]:
    return User.objects.filter(role__in=[Role.CSM, Role.MANAGER]).order_by("name", "email")


def _account_by_id(external_id: str) -> QuerySet[Account]:
    if "\x00" in external_id:  # no such id can exist, and PostgreSQL rejects NUL in a query
        return Account.objects.none()
    return accounts_with_commercials().filter(external_id=external_id)


def account_detail(*, external_id: str) -> Account | None:
    return _account_by_id(external_id).first()


def account_row(*, external_id: str, fields: tuple[str, ...]) -> dict | None:
    """One account's `fields` (commercials included) as a plain row, for the API."""
    return _account_by_id(external_id).values(*fields).first()


def account_detail_or_404(*, external_id: str) -> Account:
    """The account behind an account page's URL, or a 404 for every tab alike."""
    account = account_detail(external_id=external_id)
    if account is None:
        raise Http404("No account with that id")
    return account


@dataclass
class PersonView:
    contact: Contact
    status: str  # "active", "quiet", "left"
    days_since: int | None


def account_people(*, account: Account) -> list[tuple[str, list[PersonView]]]:
    """Contacts grouped by role (exec sponsor first) with who left and who has gone quiet."""
    on = today()
    grouped: dict[str, list[PersonView]] = {role: [] for role in ContactRole.values}
    for contact in account.contacts.all().order_by("name", "email"):
        if contact.left and contact.left <= on:
            status, days = "left", (on - contact.left).days
        elif contact.last_engaged is None:
            status, days = "quiet", None
        else:
            days = (on - contact.last_engaged).days
            status = "quiet" if days > QUIET_AFTER_DAYS else "active"
        grouped[contact.role].append(PersonView(contact, status, days))
    labels = dict(ContactRole.choices)
    return [(labels[role], people) for role, people in grouped.items() if people]


@dataclass
class TimelineEntry:
    on: date
    kind: str  # touchpoint kind or "tier"
    title: str
    detail: str
    who: str
    score: int | None = None


def account_timeline(*, account: Account, limit: int = 100) -> list[TimelineEntry]:
    """Touchpoints and tier changes, newest first."""
    entries = [
        TimelineEntry(
            on=t.date,
            kind=t.kind,
            title=t.get_kind_display(),
            detail=t.note,
            who=str(t.contact) if t.contact else (str(t.logged_by) if t.logged_by else ""),
            score=t.score,
        )
        for t in account.touchpoints.select_related("contact", "logged_by")[:limit]
    ]
    entries += [
        TimelineEntry(
            on=c.changed_at.date(),
            kind="tier",
            title=f"Tier {c.from_tier or '–'} → {c.to_tier}",
            detail=c.reason,
            who=str(c.changed_by) if c.changed_by else "import",
        )
        for c in account.tier_changes.select_related("changed_by")[:limit]
    ]
    entries.sort(key=lambda e: e.on, reverse=True)
    return entries[:limit]


def account_contracts(*, account: Account) -> list[dict]:
    on = today()
    rows = []
    for c in account.contracts.all().order_by("-start"):
        state = "active" if c.start <= on <= c.end else ("ended" if c.end < on else "future")
        rows.append({"contract": c, "state": state})
    return rows


def contract_progress(*, account: Account) -> dict | None:
    """Elapsed share of the current contract period and days to renewal."""
    if account.renewal_date is None or account.period_start is None:
        return None
    on = today()
    total = max((account.renewal_date - account.period_start).days, 1)
    elapsed = min(max((on - account.period_start).days, 0), total)
    return {
        "days_left": (account.renewal_date - on).days,
        "elapsed_pct": round(100 * elapsed / total),
    }


def api_tokens_for(*, user: User) -> QuerySet:
    """`user`'s own API tokens for the tokens page: active ones first, newest first."""
    return ApiToken.objects.filter(user=user).order_by("revoked", "-created_at", "-pk")


def with_last_touch(qs: QuerySet[Account], *, kind: str, on_or_before: date) -> QuerySet[Account]:
    """`qs` annotated with `last_touch_on`: the latest touchpoint of `kind` on or before the day
    (None when there is none), as one subquery, so a list can filter and sort on it."""
    latest = Touchpoint.objects.filter(
        account=OuterRef("pk"), kind=kind, date__lte=on_or_before
    ).order_by("-date")
    return qs.annotate(last_touch_on=Subquery(latest.values("date")[:1]))


_LATEST = object()


def account_header(*, user: User, account: Account, snapshot=_LATEST) -> dict:
    """What every account tab's header (`accounts/_header.html`) shows: the account, its
    latest health (or `snapshot`, a tab's own day), the contract's progress and what `user` may
    do there. One place, so a tab added by a higher app renders the same header."""
    return {
        "account": account,
        "snapshot": book_scores().snapshot(account=account) if snapshot is _LATEST else snapshot,
        "progress": contract_progress(account=account),
        "can_edit": can_edit_account(user, account),
        "can_change_tier": can_change_tier(user),
    }
