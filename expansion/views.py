"""The pipeline board and table, moving a card, the account's Expansion tab, the triggers page."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import selectors as account_selectors
from accounts.permissions import (
    can_edit_expansion_triggers,
    can_move_opportunity,
)
from cs_portal import clock
from cs_portal.formtools import first_error
from cs_portal.http import AuthedRequest

from . import selectors, services
from .forms import MoveForm, PipelineFilterForm, TriggerSettingsForm
from .models import LostReason, Opportunity, Stage
from .rules import (
    MOVES,
    SETTINGS,
    TRIGGERS,
    age_days,
    settings_changes,
    settings_with_defaults,
)

TABLE_PAGE_SIZE = 50
CSV_COLUMNS = (
    "id",
    "account",
    "account_name",
    "tier",
    "kind",
    "target",
    "stage",
    "arr_potential",
    "won_arr",
    "lost_reason",
    "owner",
    "ae",
    "trigger_holds",
    "thesis",
    "created_at",
    "updated_at",
)


def _filters(data) -> tuple[PipelineFilterForm, selectors.PipelineFilters, str]:
    form = PipelineFilterForm(data)
    if form.is_valid():
        return form, form.filters(), ""
    return form, selectors.PipelineFilters(), form.problem()


def _with_moves(request: AuthedRequest, cards) -> None:
    for card in cards:
        card.can_move = card.is_open and can_move_opportunity(request.user, card.account)
        card.moves = [(s, Stage(s).label) for s in MOVES[Stage(card.stage)]]


def _board_context(request: AuthedRequest, filters, error: str = "", **extra) -> dict:
    columns = selectors.board(filters=filters)
    for col in columns:
        _with_moves(request, col.cards)
    return {
        "columns": columns,
        "stats": selectors.header_stats(filters=filters),
        "filters": filters,
        "query": urlencode(filters.query()),
        "error": error,
        "lost_reasons": LostReason.choices,
        "move_error": "",
        "notice": "",
        **selectors.filter_choices(),
        **extra,
    }


@require_GET
@vary_on_headers("HX-Request")
def pipeline_board(request: AuthedRequest) -> HttpResponse:
    """Columns by stage with totals; filters by CSM, AE, tier and kind; cards move inline."""
    _, filters, error = _filters(request.GET)
    context = _board_context(request, filters, error)
    template = "expansion/board.html#board" if request.htmx else "expansion/board.html"
    return render(request, template, context, status=400 if error else 200)


@require_POST
def opportunity_move(request: AuthedRequest, pk: int) -> HttpResponse:
    """Move one card: records who moved it and when. htmx gets the board back (with the
    filters it sent along); a plain form post is redirected to the board."""
    opp = Opportunity.objects.select_related("account").filter(pk=pk).first()
    if opp is None:
        raise Http404("No such opportunity")
    if not can_move_opportunity(request.user, opp.account):
        raise PermissionDenied("Only AEs, CS managers and the account's CSM move opportunities.")
    form = MoveForm(request.POST)
    error, notice = "", ""
    if not form.is_valid():
        error = first_error(form)
    else:
        data = form.cleaned_data
        try:
            moved = services.opportunity_move(
                opportunity=opp,
                to_stage=data["stage"],
                user=request.user,
                won_arr=data["won_arr"],
                lost_reason=data["lost_reason"],
                note=data["note"],
            )
            notice = f"{moved.account.name}: moved to {moved.get_stage_display().lower()}."
        except ValidationError as exc:
            error = " ".join(exc.messages)
    back = request.POST.get("back", "")
    if request.htmx and back != "account":
        _, filters, _ = _filters(request.POST)
        context = _board_context(request, filters, move_error=error, notice=notice)
        return render(request, "expansion/board.html#board", context)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    if back == "account":
        return redirect("account_expansion", external_id=opp.account.external_id)
    _, filters, _ = _filters(request.POST)
    return redirect(f"{reverse('pipeline_board')}?{urlencode(filters.query())}")


@require_GET
@vary_on_headers("HX-Request")
def pipeline_table(request: AuthedRequest) -> HttpResponse:
    """The same opportunities as a sortable table; `?format=csv` downloads every row."""
    form, filters, error = _filters(request.GET)
    rows = selectors.opportunities_sorted(filters=filters)
    if not error and form.cleaned_data.get("format") == "csv":
        return _csv(rows)
    page = Paginator(rows, TABLE_PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    today = clock.today()
    for row in shown:
        row.age = age_days(row.created_at.date(), today)
    columns = []
    for key, label in (
        ("account", "Account"),
        ("kind", "Kind"),
        ("stage", "Stage"),
        ("arr", "ARR potential"),
        ("owner", "Owner"),
        ("ae", "AE"),
        ("age", "Age"),
        ("updated", "Updated"),
    ):
        active = filters.sort == key
        desc = not filters.desc if active else key in ("arr", "updated")
        columns.append(
            {
                "label": label,
                "href": "?" + urlencode(filters.query(sort=("-" if desc else "") + key)),
                "state": ("descending" if filters.desc else "ascending") if active else "",
                "num": key in ("arr", "age"),
            }
        )
    here = {**filters.query(), "sort": ("-" if filters.desc else "") + filters.sort}
    context = {
        "rows": shown,
        "page": page,
        "prev_href": (
            "?" + urlencode({**here, "page": page.previous_page_number()})
            if page.has_previous()
            else ""
        ),
        "next_href": (
            "?" + urlencode({**here, "page": page.next_page_number()}) if page.has_next() else ""
        ),
        "columns": columns,
        "filters": filters,
        "error": error,
        "csv_href": "?" + urlencode({**filters.query(), "format": "csv"}),
        **selectors.filter_choices(),
    }
    template = "expansion/table.html#results" if request.htmx else "expansion/table.html"
    return render(request, template, context, status=400 if error else 200)


def _csv(rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="opportunities.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for o in rows.iterator(chunk_size=500):
        writer.writerow(
            [
                o.pk,
                o.account.external_id,
                _cell(o.account.name),
                o.account.tier,
                o.kind,
                _cell(o.target),
                o.stage,
                o.arr_potential,
                o.won_arr if o.won_arr is not None else "",
                o.lost_reason,
                o.owner.email if o.owner else "",
                o.ae.email if o.ae else "",
                "yes" if o.trigger_holds else "no",
                _cell(o.thesis),
                o.created_at.isoformat(),
                o.updated_at.isoformat(),
            ]
        )
    return response


def _cell(text: str) -> str:
    """A spreadsheet must not run a cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@require_GET
def account_expansion(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Expansion tab: open and past opportunities with their evidence charts."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    open_, past = selectors.account_opportunities(account=account)
    for opp in open_ + past:
        opp.account = account
        opp.fig = selectors.evidence_chart(opp)
        opp.chart_key = f"opp-{opp.pk}"
    _with_moves(request, open_)
    context = {
        **account_selectors.account_header(user=request.user, account=account),
        "open_opps": open_,
        "past_opps": past,
        "lost_reasons": LostReason.choices,
    }
    return render(request, "expansion/account_expansion.html", context)


@require_http_methods(["GET", "POST"])
def expansion_triggers(request: AuthedRequest) -> HttpResponse:
    """The triggers' switches, thresholds and ARR rules, and every earlier version."""
    current = services.trigger_settings_current()
    values = settings_with_defaults(current.values)
    can_edit = can_edit_expansion_triggers(request.user)
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only CS managers change the expansion triggers.")
        form = TriggerSettingsForm(request.POST)
        if form.is_valid():
            new = form.values()
            if not settings_changes(values, new):
                messages.info(request, "Nothing changed: no new version saved.")
            else:
                saved = services.trigger_settings_save(
                    values=new, user=request.user, note=form.cleaned_data["note"]
                )
                messages.success(
                    request, f"Saved version {saved.version}; the next recompute uses it."
                )
            return redirect("expansion_triggers")
        status = 400
    else:
        form = TriggerSettingsForm(initial=values)
    history = list(selectors.trigger_settings_history())
    for i, version in enumerate(history):
        before = history[i + 1].values if i + 1 < len(history) else {}
        version.changes = (
            settings_changes(settings_with_defaults(before), settings_with_defaults(version.values))
            if before
            else ["the defaults"]
        )
    groups = []
    for trigger, label in [*TRIGGERS.items(), ("", "Shared")]:
        fields = [form[s.key] for s in SETTINGS if s.trigger == trigger]
        groups.append({"label": label, "fields": fields})
    context = {
        "form": form,
        "groups": groups,
        "current": current,
        "history": history,
        "can_edit": can_edit,
    }
    return render(request, "expansion/triggers.html", context, status=status)
