from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cs_portal.formtools import error_dict
from cs_portal.http import AuthedRequest

from . import selectors, services
from .extensions import book_scores
from .forms import BookFilterForm, TierForm, TouchpointForm
from .models import Account, Plan, Segment, Tier, TouchpointKind
from .permissions import can_change_tier, can_edit_account, sees_whole_team

BOOK_COLUMNS = [
    ("name", "Account"),
    ("health", "Health"),
    ("tier", "Tier"),
    ("plan", "Plan"),
    ("arr", "ARR"),
    ("renewal", "Renewal"),
    ("csm", "CSM"),
]
TREND_STEP = 5  # points of score change over 7 days before the arrow turns


def _sparkline_points(history: list, width: int = 96, height: int = 24) -> str:
    """SVG polyline points for a 0-100 score series (server-rendered, no chart library)."""
    if len(history) < 2:
        return ""
    step = width / (len(history) - 1)
    return " ".join(
        f"{i * step:.1f},{height - score * height / 100:.1f}"
        for i, (_, score, _) in enumerate(history)
    )


@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    """Managers land on the cockpit (the book as a whole), everyone else on the book."""
    return redirect("cockpit" if sees_whole_team(request.user) else "book")


@require_GET
def book(request: AuthedRequest) -> HttpResponse:
    """The book of accounts: filter, search, sort and page without full reloads."""
    error = ""
    try:
        filters = BookFilterForm(request.GET, user=request.user).filters()
    except selectors.FilterError as exc:
        error = str(exc)
        filters = selectors.BookFilters()
    qs = selectors.book_accounts(filters=filters, user=request.user)
    summary = selectors.book_summary(qs)
    paginator = Paginator(qs, settings.BOOK_PAGE_SIZE)
    page = paginator.get_page(filters.page)
    filters.page = page.number
    on = selectors.today()
    health_day = selectors.health_as_of()
    history = {}
    if health_day is not None:
        history = book_scores().history(
            account_ids=[a.pk for a in page.object_list],
            since=health_day - timedelta(days=27),
            until=health_day,
        )
    for account in page.object_list:
        account.days_left = (account.renewal_date - on).days if account.renewal_date else None
        account.spark = _sparkline_points(history.get(account.pk, []))
        change = account.score_change_7d or 0
        account.trend = (
            "up" if change >= TREND_STEP else "down" if change <= -TREND_STEP else "flat"
        )
    columns = []
    for key, label in BOOK_COLUMNS:
        state = ""
        if filters.sort == key:
            state = "descending" if filters.desc else "ascending"
        # Clicking the sorted column flips it; money sorts biggest first on the first click.
        if state == "ascending":
            next_sort = f"-{key}"
        elif state == "descending":
            next_sort = key
        else:
            next_sort = f"-{key}" if key == "arr" else key
        href = "?" + filters.as_query(sort=next_sort, page=1)
        columns.append(
            {"key": key, "label": label, "href": href, "state": state, "num": key == "arr"}
        )
    context = {
        "filters": filters,
        "error": error,
        "page": page,
        "summary": summary,
        "today": on,
        "tiers": Tier.choices,
        "segments": Segment.choices,
        "plans": Plan.choices,
        "csms": selectors.csm_choices(),
        "renewal_windows": selectors.RENEWAL_WINDOWS,
        "bands": selectors.BANDS,
        "health_day": health_day,
        "columns": columns,
        "prev_href": (
            "?" + filters.as_query(page=page.previous_page_number()) if page.has_previous() else ""
        ),
        "next_href": (
            "?" + filters.as_query(page=page.next_page_number()) if page.has_next() else ""
        ),
    }
    template = "accounts/book.html#results" if request.htmx else "accounts/book.html"
    return render(request, template, context, status=400 if error else 200)


def _account_context(request: AuthedRequest, account: Account, **extra) -> dict:
    context = {
        **selectors.account_header(user=request.user, account=account),
        "people": selectors.account_people(account=account),
        "contracts": selectors.account_contracts(account=account),
        "timeline": selectors.account_timeline(account=account),
        "touchpoint_kinds": TouchpointKind.choices,
        "contacts": account.contacts.filter(left__isnull=True).order_by("name"),
        "tiers": Tier.choices,
        "today": selectors.today(),
        "tp_errors": {},
        "tp_values": {},
        "tier_errors": {},
    }
    context.update(extra)
    return context


@require_GET
def account_detail(request: AuthedRequest, external_id: str) -> HttpResponse:
    account = selectors.account_detail_or_404(external_id=external_id)
    return render(request, "accounts/account.html", _account_context(request, account))


@require_POST
def touchpoint_create(request: AuthedRequest, external_id: str) -> HttpResponse:
    account = selectors.account_detail_or_404(external_id=external_id)
    if not can_edit_account(request.user, account):
        raise PermissionDenied("You can only log touchpoints on accounts you own.")
    form = TouchpointForm(request.POST, account=account)
    errors = error_dict(form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.touchpoint_log(
                account=account,
                logged_by=request.user,
                kind=data["kind"],
                on=data["date"],
                note=data["note"],
                contact=data["contact"],
                score=data["score"],
            )
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    if errors:
        context = _account_context(request, account, tp_errors=errors, tp_values=request.POST)
        if request.htmx:
            return render(request, "accounts/account.html#touchpoint_form", context, status=422)
        return render(request, "accounts/account.html", context, status=422)
    if request.htmx:
        context = _account_context(request, account, tp_saved=True)
        return render(request, "accounts/account.html#activity", context)
    messages.success(request, "Touchpoint logged.")
    return redirect("account", external_id=account.external_id)


@require_POST
def tier_update(request: AuthedRequest, external_id: str) -> HttpResponse:
    account = selectors.account_detail_or_404(external_id=external_id)
    if not can_change_tier(request.user):
        raise PermissionDenied("Only a CS manager can change an account's tier.")
    form = TierForm(request.POST)
    # The form refuses only what no reason may hold; the service judges the move.
    errors = error_dict(form)
    if not errors:
        try:
            services.tier_change(
                account=account,
                to_tier=form.cleaned_data["tier"],
                reason=form.cleaned_data["reason"],
                changed_by=request.user,
            )
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    if errors:
        context = _account_context(request, account, tier_errors=errors, tier_values=request.POST)
        template = "accounts/account.html#tier_form" if request.htmx else "accounts/account.html"
        return render(request, template, context, status=422)
    messages.success(request, f"{account.name} moved to tier {account.tier}.")
    if request.htmx:
        url = request.build_absolute_uri(reverse("account", args=[account.external_id]))
        return HttpResponseClientRedirect(url, status=204)
    return redirect("account", external_id=account.external_id)
