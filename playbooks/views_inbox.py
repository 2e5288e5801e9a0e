"""The inbox page: the alerts raised on a person's accounts, with per-channel delivery status."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import csm_choices
from cs_portal.http import AuthedRequest

from . import inbox as selectors
from .models import Alert, AlertKind

INBOX_PAGE_SIZE = 50


def _context(request: AuthedRequest, filters: selectors.InboxFilters, error: str = "") -> dict:
    user = request.user
    paginator = Paginator(selectors.inbox_alerts(user=user, filters=filters), INBOX_PAGE_SIZE)
    page = paginator.get_page(filters.page)
    filters.page = page.number
    for alert in page.object_list:
        alert.can_mark = selectors.can_mark_read(user, alert)
    everyone = selectors.sees_everyone(user)
    return {
        "filters": filters,
        "error": error,
        "page": page,
        "unread_in_view": selectors.inbox_unread_in_view(user=user, filters=filters),
        "kinds": AlertKind.choices,
        "sees_everyone": everyone,
        "show_owner": everyone,
        "owners": csm_choices() if everyone else [],
        "can_mark_view": (
            everyone or filters.owner == "me" or (filters.owner == "pooled" and user.role == "csm")
        ),
        "query": filters.as_query(page=1),
        "prev_href": (
            "?" + filters.as_query(page=page.previous_page_number()) if page.has_previous() else ""
        ),
        "next_href": (
            "?" + filters.as_query(page=page.next_page_number()) if page.has_next() else ""
        ),
    }


def _badge(request: AuthedRequest) -> str:
    """The nav badge, swapped out-of-band so it follows a mark-read without a reload."""
    return render_to_string(
        "playbooks/alerts_badge.html",
        {
            "inbox_unread": selectors.inbox_unread_count(user=request.user),
            "oob": True,
        },
        request=request,
    )


@require_GET
def inbox(request: AuthedRequest) -> HttpResponse:
    """Newest first; filter by kind, owner (managers; a CSM switches to the pooled queue) and
    unread. Bad filters answer 400 with the message and the default view."""
    error = ""
    try:
        filters = selectors.inbox_filters_parse(request.GET, user=request.user)
    except selectors.InboxFilterError as exc:
        error = str(exc)
        filters = selectors.inbox_filters_default(user=request.user)
    context = _context(request, filters, error)
    template = "playbooks/inbox.html#results" if request.htmx else "playbooks/inbox.html"
    return render(request, template, context, status=400 if error else 200)


@require_POST
def alert_read(request: AuthedRequest, pk: int) -> HttpResponse:
    """Mark one alert read: the owner, any CSM for a pooled alert, or a manager (else 403)."""
    alert = get_object_or_404(Alert.objects.select_related("account", "owner"), pk=pk)
    selectors.alert_mark_read(alert=alert, user=request.user)
    if not request.htmx:
        return redirect("inbox")
    alert = selectors.inbox_alerts(
        user=request.user, filters=selectors.InboxFilters(owner="all")
    ).get(pk=pk)
    alert.can_mark = selectors.can_mark_read(request.user, alert)
    # The page's filters ride along on the button, so its unread count follows too.
    try:
        filters = selectors.inbox_filters_parse(request.GET, user=request.user)
    except (selectors.InboxFilterError, PermissionDenied):
        filters = selectors.inbox_filters_default(user=request.user)
    row = render_to_string(
        "playbooks/inbox.html#row",
        {
            "alert": alert,
            "show_owner": selectors.sees_everyone(request.user),
            "query": filters.as_query(page=1),
        },
        request=request,
    )
    unread = render_to_string(
        "playbooks/inbox.html#unread_kpi",
        {
            "unread_in_view": selectors.inbox_unread_in_view(user=request.user, filters=filters),
            "oob": True,
        },
        request=request,
    )
    return HttpResponse(row + unread + _badge(request))


@require_POST
def alerts_read_all(request: AuthedRequest) -> HttpResponse:
    """Mark every unread alert in view read (the filters posted with the button)."""
    try:
        filters = selectors.inbox_filters_parse(request.POST, user=request.user)
    except selectors.InboxFilterError as exc:
        if request.htmx:
            return render(
                request,
                "playbooks/inbox.html#results",
                _context(request, selectors.inbox_filters_default(user=request.user), str(exc)),
                status=400,
            )
        messages.error(request, str(exc))
        return redirect("inbox")
    filters.page = 1
    changed = selectors.alerts_mark_read(user=request.user, filters=filters)
    note = f"Marked {changed} alert{'s' if changed != 1 else ''} read."
    if not request.htmx:
        messages.success(request, note)
        query = filters.as_query()
        return redirect(reverse("inbox") + (f"?{query}" if query else ""))
    context = _context(request, filters)
    context["note"] = note
    results = render_to_string("playbooks/inbox.html#results", context, request=request)
    return HttpResponse(results + _badge(request))
