from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.access import can_import
from cs_portal.http import AuthedRequest

from .imports import all_kinds, get_kind, run_import
from .models import ImportRun


def _import_context(request: AuthedRequest, **extra) -> dict:
    context = {
        "kinds": all_kinds(),
        "runs": ImportRun.objects.select_related("user")[:15],
        "can_import": can_import(request.user),
        "selected": request.GET.get("kind") or request.POST.get("kind") or "accounts",
        "result": None,
    }
    context.update(extra)
    return context


@require_http_methods(["GET", "POST"])
def import_page(request: AuthedRequest) -> HttpResponse:
    """Upload a CSV of any registered kind; show the accepted count or every bad row."""
    if request.method == "GET":
        return render(request, "imports/import.html", _import_context(request))
    if not can_import(request.user):
        raise PermissionDenied("Only CS managers and admins can import data.")
    kind_key = request.POST.get("kind", "")
    upload = request.FILES.get("file")
    form_error = ""
    result = None
    if get_kind(kind_key) is None:
        form_error = "Choose what kind of data the file holds."
    elif upload is None:
        form_error = "Choose a CSV file to upload."
    else:
        result = run_import(kind_key, data=upload.read(), origin="web", user=request.user,
                            filename=upload.name)
        # The htmx fragment shows the outcome itself; a flash would resurface on the next page.
        if result.ok and not request.htmx:
            messages.success(
                request,
                f"Imported {result.rows} {kind_key} rows: {result.stats.created} new, "
                f"{result.stats.updated} updated, {result.stats.unchanged} unchanged.",
            )
    context = _import_context(request, result=result, form_error=form_error,
                              selected=kind_key or "accounts")
    status = 200 if result is not None and result.ok else 400
    template = "imports/import.html#outcome" if request.htmx else "imports/import.html"
    return render(request, template, context, status=status)
