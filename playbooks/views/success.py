"""The account's Success tab: the success plan and ROI baseline, onboarding milestones, TTV."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.permissions import can_edit_account
from cs_portal import clock
from cs_portal.http import AuthedRequest
from playbooks.models import SuccessPlan
from playbooks.success import services as success_services
from playbooks.success.forms import MilestoneCompleteForm, SuccessPlanForm
from playbooks.success.rules import CURRENCIES, SUCCESS_FIELDS, TTV_MILESTONE, roi_baseline
from playbooks.success.selectors import (
    account_milestone,
    account_milestones,
    account_ttv,
    first_contract_start,
    success_plan_of,
    ttv_median_by_tier,
)
from playbooks.success.services import milestones_plan, success_plan_save

PLAN_LABELS = {
    "outcomes": "Outcomes",
    "currency": "Currency",
    "ftes_saved": "FTEs saved",
    "infra_avoided_per_year": "Infra avoided per year",
    "time_to_market_days": "Time to market",
    "targets": "Targets",
    "status": "Status",
}


# ---------------------------------------------------------------------------------------------
# Account Success tab


def _success_context(request: AuthedRequest, account: Account, **extra) -> dict:
    today = clock.today()
    plan = success_plan_of(account=account)
    context = {
        **account_selectors.account_header(user=request.user, account=account),
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
@vary_on_headers("HX-Request")
def account_success(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Success tab: success plan and ROI baseline, onboarding milestones, time to value."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    editing = request.GET.get("edit") == "1"
    context = _success_context(
        request, account, editing=editing and can_edit_account(request.user, account)
    )
    if request.htmx and editing:
        return render(request, "playbooks/success.html#plan_card", context)
    return render(request, "playbooks/success.html", context)


@require_POST
@vary_on_headers("HX-Request")
def success_plan_update(request: AuthedRequest, external_id: str) -> HttpResponse:
    account = account_selectors.account_detail_or_404(external_id=external_id)
    if not can_edit_account(request.user, account):
        raise PermissionDenied("Only the account's CSM or a manager can edit its success plan.")
    form = SuccessPlanForm(request.POST)
    if not form.is_valid():
        context = _success_context(
            request,
            account,
            editing=True,
            plan_values=request.POST,
            plan_errors={PLAN_LABELS.get(k, k): " ".join(v) for k, v in form.errors.items()},
        )
        template = "playbooks/success.html#plan_card" if request.htmx else "playbooks/success.html"
        return render(request, template, context, status=422)
    success_plan_save(account=account, user=request.user, data=form.cleaned_data)
    if request.htmx:
        context = _success_context(request, account, plan_saved=True)
        return render(request, "playbooks/success.html#plan_card", context)
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
@vary_on_headers("HX-Request")
def milestone_complete(request: AuthedRequest, external_id: str, pk: int) -> HttpResponse:
    account = account_selectors.account_detail_or_404(external_id=external_id)
    milestone = account_milestone(account=account, pk=pk)
    if milestone is None:
        raise Http404("No such milestone on this account")
    if not can_edit_account(request.user, account):
        raise PermissionDenied("Only the account's CSM or a manager can complete milestones.")
    form = MilestoneCompleteForm(request.POST)
    errors = {k: " ".join(v) for k, v in form.errors.items()}
    if not errors:
        try:
            success_services.milestone_complete(
                milestone=milestone,
                user=request.user,
                on=form.cleaned_data["on"],
                evidence=form.cleaned_data["evidence"],
            )
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    status = 422 if errors else 200
    if request.htmx or errors:
        context = _success_context(
            request, account, ms_error_pk=milestone.pk, ms_error=" ".join(errors.values())
        )
        template = "playbooks/success.html#milestones" if request.htmx else "playbooks/success.html"
        return render(request, template, context, status=status)
    messages.success(request, f"{milestone.get_key_display()} marked complete.")
    return redirect("account_success", external_id=account.external_id)
