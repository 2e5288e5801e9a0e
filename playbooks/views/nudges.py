"""The nudges page: digital-tier nudges and their delivery to the product's webhook."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from cs_portal.http import AuthedRequest
from cs_portal.params import query_string
from playbooks.models import DeliveryStatus, Nudge
from playbooks.nudges.forms import NudgesFilterForm
from playbooks.nudges.selectors import nudges_page as nudges_page_of


@require_GET
@vary_on_headers("HX-Request")
def nudges_page(request: AuthedRequest) -> HttpResponse:
    """Digital-tier nudges and their delivery to the product's webhook, newest first."""
    form = NudgesFilterForm(request.GET)
    form.is_valid()
    problems = form.problems()
    kind, status, number = form.values()
    nudges = nudges_page_of(kind=kind, status=status, number=number)
    context = {
        "page": nudges.page,
        "kind": kind,
        "status": status,
        "filters": query_string({"kind": kind, "status": status}),
        "kinds": Nudge.Kind.choices,
        "statuses": DeliveryStatus.choices,
        "error": "; ".join(problems),
        "webhook_configured": nudges.webhook_configured,
        "total": nudges.total,
    }
    template = "playbooks/nudges.html#rows" if request.htmx else "playbooks/nudges.html"
    return render(request, template, context, status=400 if problems else 200)
