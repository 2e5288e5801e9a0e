"""Pages of the voice of the customer: the theme list (and its CSV), a theme's page with
product's edits, and the account's Feedback tab."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.permissions import (
    can_edit_themes,
    can_log_feedback,
    is_csm,
    is_manager,
)
from cs_portal import clock
from cs_portal.formtools import first_error
from cs_portal.http import AuthedRequest
from cs_portal.params import whole_number

from . import charts, rules, selectors, services
from .forms import (
    FeedbackForm,
    ItemsForm,
    ThemeEditForm,
    ThemeFilterForm,
    ThemeMergeForm,
    ThemeStatusForm,
    VoteForm,
)
from .models import FeedbackSeverity, ThemeStatus

COLUMNS = (
    ("title", "Theme"),
    ("accounts", "Accounts"),
    ("items", "Items"),
    ("arr", "ARR"),
    ("arr_at_risk", "ARR at risk"),
    ("arr_to_win", "ARR to win"),
    ("last_activity", "Last activity"),
)
CSV_COLUMNS = (
    "key",
    "title",
    "type",
    "chain",
    "dataset",
    "status",
    "accounts",
    "items",
    "arr",
    "arr_at_risk",
    "arr_to_win",
    "last_activity",
)


def _filtered(request: AuthedRequest) -> tuple[ThemeFilterForm, selectors.ThemeFilters]:
    form = ThemeFilterForm(request.GET)
    form.is_valid()
    return form, form.filters()


@require_GET
def theme_list(request: AuthedRequest) -> HttpResponse:
    """Themes sortable by ARR, ARR at risk, ARR to win, accounts, items and last activity,
    filtered by type, chain, dataset, segment, tier, status and source."""
    form, filters = _filtered(request)
    rows = selectors.themes_overview(filters=filters)
    problems = form.problems()
    context = {
        "rows": rows,
        "filters": filters,
        "choices": selectors.filter_choices(),
        "error": "; ".join(problems),
        "totals": {
            "arr": sum(r.arr for r in rows),
            "arr_at_risk": sum(r.arr_at_risk for r in rows),
            "arr_to_win": sum(r.arr_to_win for r in rows),
        },
        "columns": [
            {
                "label": label,
                "num": name != "title",
                "href": "?"
                + filters.as_query(
                    sort=("" if filters.sort == name and filters.desc else "-") + name
                ),
                "state": (
                    ("descending" if filters.desc else "ascending") if filters.sort == name else ""
                ),
            }
            for name, label in COLUMNS
        ],
        "csv_query": filters.as_query(),
        "can_edit": can_edit_themes(request.user),
    }
    template = "voc/themes.html#rows" if request.htmx else "voc/themes.html"
    response = render(request, template, context, status=400 if problems else 200)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def theme_list_csv(request: AuthedRequest) -> HttpResponse:
    """The filtered theme list as CSV, in the list's order."""
    _, filters = _filtered(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="voc-themes-{clock.today().isoformat()}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for r in selectors.themes_overview(filters=filters):
        t = r.theme
        writer.writerow(
            [
                t.key,
                t.title,
                t.type,
                t.chain,
                t.dataset,
                t.status,
                r.accounts,
                r.items,
                f"{r.arr:.2f}",
                f"{r.arr_at_risk:.2f}",
                f"{r.arr_to_win:.2f}",
                r.last_activity.isoformat() if r.last_activity else "",
            ]
        )
    return response


def _my_accounts(request: AuthedRequest):
    """The accounts this user may vote for (a CSM's own; a manager's every account)."""
    qs = Account.objects.order_by("name")
    if is_manager(request.user):
        return qs
    if is_csm(request.user):
        return qs.filter(csm=request.user)
    return qs.none()


@require_GET
def theme_detail(request: AuthedRequest, key: str) -> HttpResponse:
    theme = selectors.theme_or_404(key)
    return render(request, "voc/theme.html", _theme_context(request, theme))


def _theme_context(request: AuthedRequest, theme, **extra) -> dict:
    accounts, items = selectors.theme_accounts(theme)
    series = selectors.theme_failures(theme)
    figures = {}
    if series:
        figures["failures"] = charts.theme_failures(
            title=theme.title, series=series, shipped_on=theme.shipped_on
        )
    can_edit = can_edit_themes(request.user)
    waiting = services.tells_waiting(theme)
    context = {
        "theme": theme,
        "row": selectors.theme_row(theme),
        "accounts": accounts,
        "items": items,
        "charts": figures,
        "history": selectors.theme_history(theme),
        "outcome": selectors.outcome_report(theme),
        "waiting": waiting,
        "can_edit": can_edit,
        "moves": [
            (to, ThemeStatus(to).label)
            for to in rules.TRANSITIONS.get(theme.status, ())
            if not (to == ThemeStatus.LOOP_CLOSED and waiting)
        ],
        "targets": selectors.merge_targets(theme) if can_edit else [],
        "vote_accounts": _my_accounts(request) if theme.merged_into_id is None else [],
        "severities": FeedbackSeverity.choices,
        "edit_form": ThemeEditForm(
            initial={"title": theme.title, "description": theme.description}
        ),
        "error": "",
    }
    context.update(extra)
    return context


def _theme_post(request: AuthedRequest, key: str):
    theme = selectors.theme_or_404(key)
    if not can_edit_themes(request.user):
        raise PermissionDenied("Only product changes themes; everyone else reads them.")
    return theme


def _failed(request: AuthedRequest, theme, message: str) -> HttpResponse:
    context = _theme_context(request, theme, error=message)
    return render(request, "voc/theme.html", context, status=422)


@require_POST
def theme_edit(request: AuthedRequest, key: str) -> HttpResponse:
    theme = _theme_post(request, key)
    form = ThemeEditForm(request.POST)
    if not form.is_valid():
        return _failed(request, theme, first_error(form))
    services.theme_edit(
        theme=theme,
        title=form.cleaned_data["title"],
        description=form.cleaned_data["description"],
        by=request.user,
    )
    messages.success(request, "Saved the theme.")
    return redirect("voc_theme", key=theme.key)


@require_POST
def theme_status(request: AuthedRequest, key: str) -> HttpResponse:
    theme = _theme_post(request, key)
    form = ThemeStatusForm(request.POST)
    if not form.is_valid():
        return _failed(request, theme, first_error(form))
    try:
        theme = services.theme_status_change(
            theme=theme,
            to=form.cleaned_data["to"],
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
    except rules.TransitionError as exc:
        return _failed(request, theme, str(exc))
    note = ""
    if theme.status == ThemeStatus.SHIPPED:
        tells = theme.tells.count()
        plural = "s" if tells != 1 else ""
        note = f" Told its {tells} account{plural}: tasks for CSMs, nudges for tier 3."
    messages.success(request, f"Moved to {theme.get_status_display().lower()}.{note}")
    return redirect("voc_theme", key=theme.key)


@require_POST
def theme_merge(request: AuthedRequest, key: str) -> HttpResponse:
    theme = _theme_post(request, key)
    form = ThemeMergeForm(request.POST)
    if not form.is_valid():
        return _failed(request, theme, first_error(form))
    try:
        target = services.themes_merge(
            source=theme, target=form.cleaned_data["into"], by=request.user
        )
    except rules.TransitionError as exc:
        return _failed(request, theme, str(exc))
    messages.success(request, f"Merged {theme.title} into this theme.")
    return redirect("voc_theme", key=target.key)


@require_POST
def theme_items(request: AuthedRequest, key: str) -> HttpResponse:
    """Split the chosen items off into a new theme (`title`), or move them to another (`to`)."""
    theme = _theme_post(request, key)
    form = ItemsForm(request.POST, theme=theme)
    if not form.is_valid():
        return _failed(request, theme, first_error(form) or "pick items of this theme")
    ids, target, title = (form.cleaned_data[k] for k in ("items", "to", "title"))
    try:
        if target is not None:
            moved = services.items_move(item_ids=ids, source=theme, target=target, by=request.user)
            messages.success(
                request, f"Moved {moved} item{'s' if moved != 1 else ''} to {target.title}."
            )
            return redirect("voc_theme", key=theme.key)
        if not title:
            return _failed(request, theme, "name the new theme, or pick a theme to move them to")
        new = services.theme_split(theme=theme, item_ids=ids, title=title, by=request.user)
    except rules.TransitionError as exc:
        return _failed(request, theme, str(exc))
    messages.success(
        request, f"Split {len(ids)} item{'s' if len(ids) != 1 else ''} off into {new.title}."
    )
    return redirect("voc_theme", key=new.key)


@require_POST
def theme_vote(request: AuthedRequest, key: str) -> HttpResponse:
    """A CSM votes for the theme on behalf of one of their accounts."""
    theme = selectors.theme_or_404(key)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _failed(request, theme, first_error(form))
    account = form.cleaned_data["account"]
    if not can_log_feedback(request.user, account):
        raise PermissionDenied("You log feedback on your own accounts.")
    services.theme_vote(
        theme=theme,
        account=account,
        severity=form.cleaned_data["severity"],
        note=form.cleaned_data["note"],
        by=request.user,
    )
    messages.success(request, f"Added {account.name}'s vote.")
    return redirect("voc_theme", key=theme.key)


@require_http_methods(["GET", "POST"])
def account_feedback(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Feedback tab: the account's items and their themes' status, and a form to log one."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    can_log = can_log_feedback(request.user, account)
    qbrs = selectors.qbr_notes(account=account)
    initial = {"date": clock.today()}
    picked = whole_number(request.GET.get("from_qbr", ""), max_digits=12)
    if (note := next((t for t in qbrs if t.pk == picked), None)) is not None:
        # A QBR's note as the starting point of an item: what they said, heard in the QBR.
        initial = {
            "date": note.date,
            "source": "qbr",
            "title": note.note.strip().splitlines()[0][:200],
            "detail": note.note,
        }
    form = FeedbackForm(request.POST or None, account=account, initial=initial)
    status = 200
    if request.method == "POST":
        if not can_log:
            raise PermissionDenied("You log feedback on your own accounts.")
        if form.is_valid():
            data = form.cleaned_data
            item = services.feedback_log(
                account=account,
                on=data["date"],
                type=data["type"],
                severity=data["severity"],
                title=data["title"],
                detail=data["detail"],
                chain=data["chain"],
                dataset=data["dataset"],
                source=data["source"],
                by=request.user,
            )
            messages.success(request, f"Logged “{item.title}” under the theme {item.theme.title}.")
            return redirect("account_feedback", external_id=account.external_id)
        status = 422
    context = {
        **account_selectors.account_header(user=request.user, account=account),
        "can_log": can_log,
        "items": selectors.account_feedback(account=account),
        "form": form,
        "qbrs": qbrs,
    }
    return render(request, "voc/account_feedback.html", context, status=status)
