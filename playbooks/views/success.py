"""Pages for success plans and onboarding (account Success tab), the tier queue and nudges."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.permissions import can_change_tier, can_edit_account
from cs_portal import clock
from cs_portal.http import AuthedRequest
from cs_portal.params import query_string, whole_number
from health.selectors import account_snapshot
from playbooks.models import DeliveryStatus, Milestone, Nudge, SuccessPlan, TierSuggestion
from playbooks.nudges.selectors import nudges_list
from playbooks.success import services as success_services
from playbooks.success.rules import CURRENCIES, SUCCESS_FIELDS, TTV_MILESTONE, roi_baseline
from playbooks.success.selectors import (
    account_milestones,
    account_ttv,
    first_contract_start,
    ttv_median_by_tier,
)
from playbooks.success.services import milestones_plan, success_plan_save
from playbooks.tiering import selectors as tiering_selectors
from playbooks.tiering import services as tiering_services
from playbooks.tiering.rules import DIRECTIONS, evidence_lines
from playbooks.tiering.selectors import tier_decided

NUDGES_PER_PAGE = 50
PLAN_LABELS = {
    "outcomes": "Outcomes",
    "currency": "Currency",
    "ftes_saved": "FTEs saved",
    "infra_avoided_per_year": "Infra avoided per year",
    "time_to_market_days": "Time to market",
    "targets": "Targets",
    "status": "Status",
}


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request",))
    return response


# ---------------------------------------------------------------------------------------------
# Account Success tab


def _success_context(request: AuthedRequest, account: Account, **extra) -> dict:
    today = clock.today()
    plan = SuccessPlan.objects.filter(account=account).first()
    context = {
        "account": account,
        "progress": account_selectors.contract_progress(account=account),
        "snapshot": account_snapshot(account=account),
        "can_edit": can_edit_account(request.user, account),
        "can_change_tier": can_change_tier(request.user),
        "plan": plan,
        "roi": roi_baseline(plan),
        "milestones": account_milestones(account=account, today=today),
        "ttv": account_ttv(account=account, today=today),
        "ttv_milestone": TTV_MILESTONE.label,
        "ttv_medians": ttv_median_by_tier(),
        "statuses": SuccessPlan.Status.choices,
        "currencies": list(CURRENCIES),
        "today": today,
        "plan_values": None,
        "plan_errors": {},
        "editing": False,
        "ms_error_pk": None,
        "ms_error": "",
    }
    context.update(extra)
    rows = context["milestones"]
    done = sum(1 for r in rows if r.milestone.completed_on)
    overdue = sum(1 for r in rows if r.overdue)
    context["ms_counts"] = {"done": done, "overdue": overdue, "open": len(rows) - done - overdue}
    if context["plan_values"] is None:
        context["plan_values"] = _plan_values(plan)
    return context


def _plan_values(plan: SuccessPlan | None) -> dict:
    if plan is None:
        return {"currency": "USD", "status": SuccessPlan.Status.DRAFT}
    return {
        field: ("" if getattr(plan, field) is None else getattr(plan, field))
        for field in SUCCESS_FIELDS
    }


@require_GET
def account_success(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Success tab: success plan and ROI baseline, onboarding milestones, time to value."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    editing = request.GET.get("edit") == "1"
    context = _success_context(
        request, account, editing=editing and can_edit_account(request.user, account)
    )
    if request.htmx and editing:
        return _vary(render(request, "playbooks/success.html#plan_card", context))
    return _vary(render(request, "playbooks/success.html", context))


@require_POST
def success_plan_update(request: AuthedRequest, external_id: str) -> HttpResponse:
    account = account_selectors.account_detail_or_404(external_id=external_id)
    if not can_edit_account(request.user, account):
        raise PermissionDenied("Only the account's CSM or a manager can edit its success plan.")
    try:
        success_plan_save(account=account, user=request.user, data=request.POST)
    except ValidationError as exc:
        context = _success_context(
            request,
            account,
            editing=True,
            plan_values=request.POST,
            plan_errors={PLAN_LABELS.get(k, k): " ".join(v) for k, v in exc.message_dict.items()},
        )
        template = "playbooks/success.html#plan_card" if request.htmx else "playbooks/success.html"
        return _vary(render(request, template, context, status=422))
    if request.htmx:
        context = _success_context(request, account, plan_saved=True)
        return _vary(render(request, "playbooks/success.html#plan_card", context))
    messages.success(request, "Success plan saved.")
    return redirect("account_success", external_id=account.external_id)


@require_POST
def milestones_start(request: AuthedRequest, external_id: str) -> HttpResponse:
    """Create the tier's standard onboarding milestones from the first contract's start."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    if not can_edit_account(request.user, account):
        raise PermissionDenied("Only the account's CSM or a manager can plan onboarding.")
    start = first_contract_start(account=account)
    if start is None:
        messages.error(request, "Import a contract first: milestones are due from its start.")
        return redirect("account_success", external_id=account.external_id)
    milestones_plan(account=account, start=start)
    messages.success(request, f"Onboarding milestones planned from {start:%b %-d, %Y}.")
    return redirect("account_success", external_id=account.external_id)


@require_POST
def milestone_complete(request: AuthedRequest, external_id: str, pk: int) -> HttpResponse:
    account = account_selectors.account_detail_or_404(external_id=external_id)
    milestone = get_object_or_404(Milestone, pk=pk, account=account)
    if not can_edit_account(request.user, account):
        raise PermissionDenied("Only the account's CSM or a manager can complete milestones.")
    errors: dict[str, str] = {}
    on = None
    raw = request.POST.get("on", "").strip()
    if raw:
        try:
            on = date.fromisoformat(raw)
        except ValueError:
            errors["on"] = "Give the date as YYYY-MM-DD."
    if not errors:
        try:
            success_services.milestone_complete(
                milestone=milestone,
                user=request.user,
                on=on,
                evidence=request.POST.get("evidence", ""),
            )
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    status = 422 if errors else 200
    if request.htmx or errors:
        context = _success_context(
            request, account, ms_error_pk=milestone.pk, ms_error=" ".join(errors.values())
        )
        template = "playbooks/success.html#milestones" if request.htmx else "playbooks/success.html"
        return _vary(render(request, template, context, status=status))
    messages.success(request, f"{milestone.get_key_display()} marked complete.")
    return redirect("account_success", external_id=account.external_id)


# ---------------------------------------------------------------------------------------------
# Tier queue


def _queue_context(request: AuthedRequest, direction: str) -> dict:
    pending = list(tiering_selectors.tier_queue(direction=direction))
    for s in pending:
        s.evidence_lines = evidence_lines(s.evidence)
    decided = list(tier_decided())
    for s in decided:
        s.evidence_lines = evidence_lines(s.evidence)
    return {
        "pending": pending,
        "decided": decided,
        "direction": direction,
        "directions": DIRECTIONS,
        "can_decide": can_change_tier(request.user),
        "ttv_medians": ttv_median_by_tier(),
    }


@require_GET
def tier_queue(request: AuthedRequest) -> HttpResponse:
    """Pending tier suggestions with their evidence; managers approve or dismiss inline."""
    direction = request.GET.get("direction", "").strip()
    error = ""
    if direction and direction not in DIRECTIONS:
        error = f"direction must be 'promote' or 'relegate', not '{direction[:40]}'"
        direction = ""
    context = _queue_context(request, direction)
    context["error"] = error
    return _vary(
        render(request, "playbooks/tier_queue.html", context, status=400 if error else 200)
    )


def _decide(request: AuthedRequest, pk: int, approve: bool) -> HttpResponse:
    suggestion = get_object_or_404(TierSuggestion.objects.select_related("account"), pk=pk)
    if not can_change_tier(request.user):
        raise PermissionDenied("Only a CS manager can decide tier suggestions.")
    error = ""
    try:
        if approve:
            tiering_services.tier_suggestion_approve(
                suggestion=suggestion, user=request.user, note=request.POST.get("note", "")
            )
        else:
            tiering_services.tier_suggestion_dismiss(suggestion=suggestion, user=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    account = suggestion.account
    if request.htmx:
        suggestion.refresh_from_db()
        suggestion.evidence_lines = evidence_lines(suggestion.evidence)
        context = {"s": suggestion, "can_decide": True, "row_error": error}
        return _vary(
            render(
                request,
                "playbooks/tier_queue.html#decided_row",
                context,
                status=409 if error else 200,
            )
        )
    if error:
        messages.error(request, error)
    elif approve:
        messages.success(request, f"{account.name} moved to tier {suggestion.to_tier}.")
    else:
        messages.success(request, f"Suggestion for {account.name} dismissed.")
    return redirect("tier_queue")


@require_POST
def tier_suggestion_approve(request: AuthedRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=True)


@require_POST
def tier_suggestion_dismiss(request: AuthedRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=False)


# ---------------------------------------------------------------------------------------------
# Nudges


@require_GET
def nudges_page(request: AuthedRequest) -> HttpResponse:
    """Digital-tier nudges and their delivery to the product's webhook, newest first."""
    kind = request.GET.get("kind", "").strip()
    status = request.GET.get("status", "").strip()
    raw_page = request.GET.get("page", "1").strip() or "1"
    problems = []
    if kind and kind not in Nudge.Kind.values:
        problems.append(f"kind must be one of {', '.join(Nudge.Kind.values)}")
        kind = ""
    if status and status not in DeliveryStatus.values:
        problems.append(f"status must be one of {', '.join(DeliveryStatus.values)}")
        status = ""
    number = whole_number(raw_page, max_digits=9)
    if not number:
        problems.append(f"page must be a positive whole number, not '{raw_page[:20]}'")
        number = 1
    qs = nudges_list(kind=kind, status=status)
    page = Paginator(qs, NUDGES_PER_PAGE).get_page(number)
    context = {
        "page": page,
        "kind": kind,
        "status": status,
        "filters": query_string({"kind": kind, "status": status}),
        "kinds": Nudge.Kind.choices,
        "statuses": DeliveryStatus.choices,
        "error": "; ".join(problems),
        "webhook_configured": bool(settings.NUDGE_WEBHOOK_URL),
        "total": Nudge.objects.count(),
    }
    template = "playbooks/nudges.html#rows" if request.htmx else "playbooks/nudges.html"
    return _vary(render(request, template, context, status=400 if problems else 200))
