"""The tier queue: pending tier suggestions with their evidence; managers approve or dismiss."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import can_change_tier
from cs_portal.http import AuthedRequest
from playbooks.success.selectors import (
    ttv_median_by_tier,
)
from playbooks.tiering import services as tiering_services
from playbooks.tiering.forms import TierDecisionForm, TierQueueFilterForm
from playbooks.tiering.rules import DIRECTIONS
from playbooks.tiering.selectors import tier_queue_page, tier_suggestion_of, with_evidence_lines


@require_GET
@vary_on_headers("HX-Request")
def tier_queue(request: AuthedRequest) -> HttpResponse:
    """Pending tier suggestions with their evidence; managers approve or dismiss inline."""
    form = TierQueueFilterForm(request.GET)
    error = "" if form.is_valid() else form.errors["direction"][0]
    direction = form.cleaned_data.get("direction", "")
    queue = tier_queue_page(direction=direction)
    context = {
        "pending": queue.pending,
        "decided": queue.decided,
        "direction": direction,
        "directions": DIRECTIONS,
        "can_decide": can_change_tier(request.user),
        "ttv_medians": ttv_median_by_tier(),
        "error": error,
    }
    return render(request, "playbooks/tier_queue.html", context, status=400 if error else 200)


def _decide(request: AuthedRequest, pk: int, approve: bool) -> HttpResponse:
    suggestion = tier_suggestion_of(pk=pk)
    if suggestion is None:
        raise Http404("No such tier suggestion")
    if not can_change_tier(request.user):
        raise PermissionDenied("Only a CS manager can decide tier suggestions.")
    error = ""
    try:
        if approve:
            form = TierDecisionForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["note"])
            tiering_services.tier_suggestion_approve(
                suggestion=suggestion, user=request.user, note=form.cleaned_data["note"]
            )
        else:
            tiering_services.tier_suggestion_dismiss(suggestion=suggestion, user=request.user)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    account = suggestion.account
    if request.htmx:
        suggestion.refresh_from_db()
        context = {"s": with_evidence_lines(suggestion), "can_decide": True, "row_error": error}
        return render(
            request, "playbooks/tier_queue.html#decided_row", context, status=409 if error else 200
        )
    if error:
        messages.error(request, error)
    elif approve:
        messages.success(request, f"{account.name} moved to tier {suggestion.to_tier}.")
    else:
        messages.success(request, f"Suggestion for {account.name} dismissed.")
    return redirect("tier_queue")


@require_POST
@vary_on_headers("HX-Request")
def tier_suggestion_approve(request: AuthedRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=True)


@require_POST
@vary_on_headers("HX-Request")
def tier_suggestion_dismiss(request: AuthedRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=False)
