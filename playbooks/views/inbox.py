"""The inbox page: the alerts raised on a person's accounts, with their status (open,
acknowledged, snoozed, resolved and why), per-channel delivery status, and inline actions: mark
read, acknowledge, snooze (1 day, 3 days, 1 week or until a date), reopen.

Every action answers htmx with the alert's row plus the counts that follow it (out of band), and
a plain POST with a redirect back to the inbox the button was on (its filters ride along in the
form's URL)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import is_csm, sees_whole_team
from accounts.selectors import csm_choices
from cs_portal.clock import today
from cs_portal.http import AuthedRequest
from playbooks.alerts import services as alert_services
from playbooks.alerts.rules import (
    SNOOZE_CHOICES,
    SNOOZE_MAX_DAYS,
    can_work_alert,
)
from playbooks.delivery.messages import KIND_ORDER
from playbooks.inbox.forms import InboxFilterForm, SnoozeForm
from playbooks.inbox.selectors import (
    STATUS_CHOICES,
    InboxFilterError,
    InboxFilters,
    alert_for_action,
    inbox_alerts,
    inbox_filters_default,
    inbox_status_counts,
    inbox_unread_count,
    inbox_unread_in_view,
)
from playbooks.inbox.services import alert_mark_read, alerts_mark_read
from playbooks.models import Alert, AlertKind, AlertStatus

INBOX_PAGE_SIZE = 50


ROW_ACTIONS = {
    "read": "alert_read",
    "acknowledge": "alert_acknowledge",
    "snooze": "alert_snooze",
    "reopen": "alert_reopen",
}


def _for_row(user, alert: Alert, on, query: str) -> Alert:
    """What the row shows beyond the alert itself: its status as read today, whether this
    person may act on it, and its action URLs (carrying the page's filters back), reversed once
    here rather than twice per form in the template."""
    suffix = f"?{query}" if query else ""
    alert.action_urls = {
        name: reverse(route, args=[alert.pk]) + suffix for name, route in ROW_ACTIONS.items()
    }
    alert.can_mark = can_work_alert(user, alert)
    alert.shown_status = alert.status_on(on)
    alert.unread = alert.shown_status != AlertStatus.RESOLVED and (
        alert.read_at is None or alert.status != alert.shown_status
    )
    return alert


def _row_context(on) -> dict:
    return {
        "today": on,
        "snooze_choices": SNOOZE_CHOICES,
        "snooze_min": on + timedelta(days=1),
        "snooze_max": on + timedelta(days=SNOOZE_MAX_DAYS),
    }


def _status_links(filters: InboxFilters, counts: dict[str, int]) -> list[dict]:
    return [
        {
            "value": value,
            "label": label,
            "count": counts[value],
            "href": "?" + filters.as_query(status=value, page=1),
            "current": filters.status == value,
        }
        for value, label in STATUS_CHOICES
        if value in ("open", "acknowledged", "snoozed", "resolved")
    ]


def _stories(alerts: list[Alert]) -> list[dict]:
    """The page's alerts as inbox entries: one account's alerts of one recompute (a story) are
    one entry with its parts, the headline first (a band change, then the override behind it,
    then the score drop), in the order the entries first appear."""
    entries: dict[str, list[Alert]] = {}
    for alert in alerts:
        entries.setdefault(alert.story or f"alert:{alert.pk}", []).append(alert)
    out = []
    for parts in entries.values():
        parts.sort(key=lambda a: (KIND_ORDER.index(a.kind), a.pk))
        labels = dict.fromkeys(a.get_kind_display() for a in parts)
        # _for_row has set what this person may do and the status as read today.
        workable = sum(
            1
            for a in parts
            if a.can_mark and a.shown_status in (AlertStatus.OPEN, AlertStatus.SNOOZED)
        )
        out.append(
            {"parts": parts, "head": parts[0], "kinds": " + ".join(labels), "open_parts": workable}
        )
    return out


def _context(request: AuthedRequest, filters: InboxFilters, error: str = "") -> dict:
    user = request.user
    on = today()
    paginator = Paginator(inbox_alerts(user=user, filters=filters), INBOX_PAGE_SIZE)
    page = paginator.get_page(filters.page)
    filters.page = page.number
    query = filters.as_query(page=1)
    for alert in page.object_list:
        _for_row(user, alert, on, query)
    everyone = sees_whole_team(user)
    counts = inbox_status_counts(user=user, filters=filters)
    return {
        **_row_context(on),
        "filters": filters,
        "error": error,
        "page": page,
        "entries": _stories(list(page.object_list)),
        "unread_in_view": inbox_unread_in_view(user=user, filters=filters),
        "status_links": _status_links(filters, counts),
        "status_counts": counts,
        "status_filter_choices": [c for c in STATUS_CHOICES if c[0]],
        "snoozed_query": filters.as_query(status="snoozed", page=1),
        "resolved_query": filters.as_query(status="resolved", page=1),
        "kinds": AlertKind.choices,
        "sees_everyone": everyone,
        "show_owner": everyone,
        "owners": csm_choices() if everyone else [],
        "can_mark_view": (
            everyone or filters.owner == "me" or (filters.owner == "pooled" and is_csm(user))
        ),
        "query": query,
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
            "inbox_unread": inbox_unread_count(user=request.user),
            "oob": True,
        },
        request=request,
    )


@require_GET
@vary_on_headers("HX-Request")
def inbox(request: AuthedRequest) -> HttpResponse:
    """Open first, then acknowledged, snoozed and resolved, newest first within each; filter by
    status (default: open and acknowledged), kind, owner (managers; a CSM switches to the pooled
    queue) and unread. Bad filters answer 400 with the message and the default view."""
    error = ""
    try:
        filters = InboxFilterForm(request.GET, user=request.user).filters()
    except InboxFilterError as exc:
        error = str(exc)
        filters = inbox_filters_default(user=request.user)
    context = _context(request, filters, error)
    template = "playbooks/inbox.html#results" if request.htmx else "playbooks/inbox.html"
    return render(request, template, context, status=400 if error else 200)


def _page_filters(request: AuthedRequest) -> InboxFilters:
    """The filters of the page a button was on (they ride along in the form's URL)."""
    try:
        return InboxFilterForm(request.GET, user=request.user).filters()
    except (InboxFilterError, PermissionDenied):
        return inbox_filters_default(user=request.user)


def _alert_or_404(pk: int) -> Alert:
    alert = alert_for_action(pk=pk)
    if alert is None:
        raise Http404("No such alert")
    return alert


def _answer(
    request: AuthedRequest, pk: int, *, notice: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    """After an action on one alert: htmx gets its row (with the notice or error in it), the
    page's unread and status counts and the nav badge, out of band; a plain POST a redirect to
    the inbox it came from, with the notice or error as a message."""
    filters = _page_filters(request)
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        query = filters.as_query() if request.GET else ""
        return redirect(reverse("inbox") + (f"?{query}" if query else ""))
    on = today()
    alert = inbox_alerts(user=request.user, filters=InboxFilters(owner="all", status="all")).get(
        pk=pk
    )
    query = filters.as_query(page=1)
    _for_row(request.user, alert, on, query)
    counts = inbox_status_counts(user=request.user, filters=filters)
    context = {
        **_row_context(on),
        "alert": alert,
        "show_owner": sees_whole_team(request.user),
        "query": query,
        "row_notice": notice,
        "row_error": error,
        "unread_in_view": inbox_unread_in_view(user=request.user, filters=filters),
        "status_links": _status_links(filters, counts),
        "oob": True,
    }
    html = "".join(
        render_to_string(f"playbooks/inbox.html#{name}", context, request=request)
        for name in ("row", "unread_kpi", "status_kpis")
    )
    return HttpResponse(html + _badge(request), status=status)


@require_POST
@vary_on_headers("HX-Request")
def alert_read(request: AuthedRequest, pk: int) -> HttpResponse:
    """Mark one alert read: the owner, any CSM for a pooled alert, or a manager (else 403)."""
    alert = _alert_or_404(pk)
    alert_mark_read(alert=alert, user=request.user)
    return _answer(request, pk)


@require_POST
@vary_on_headers("HX-Request")
def alert_acknowledge(request: AuthedRequest, pk: int) -> HttpResponse:
    """Acknowledge one alert (someone is on it); who may: as for marking read (else 403)."""
    alert = _alert_or_404(pk)
    try:
        changed = alert_services.alert_acknowledge(alert=alert, user=request.user)
    except ValidationError as exc:
        return _answer(request, pk, error=exc.messages[0], status=409)
    notice = "Acknowledged." if changed else "Already acknowledged."
    return _answer(request, pk, notice=notice if request.htmx else f"{notice} {alert.title}")


@require_POST
@vary_on_headers("HX-Request")
def alert_snooze(request: AuthedRequest, pk: int) -> HttpResponse:
    """Snooze one alert for `days` (1, 3, 7) or `until` a date; it reads as open again on that
    day. A bad or past date answers 422 with the message in the row."""
    alert = _alert_or_404(pk)
    if not can_work_alert(request.user, alert):
        raise PermissionDenied(
            "This alert belongs to another CSM; only they or a CS manager can snooze it."
        )
    form = SnoozeForm(request.POST, on=today())
    error = form.error()
    if not error:
        until = form.cleaned_data["until"]
        try:
            alert_services.alert_snooze(alert=alert, user=request.user, until=until)
        except ValidationError as exc:
            error = exc.messages[0]
    if error:
        status = 409 if alert.status == AlertStatus.RESOLVED else 422
        return _answer(request, pk, error=error, status=status)
    notice = f"Snoozed until {until:%a %b} {until.day}."
    return _answer(request, pk, notice=notice if request.htmx else f"{notice} {alert.title}")


@require_POST
@vary_on_headers("HX-Request")
def alert_reopen(request: AuthedRequest, pk: int) -> HttpResponse:
    """Undo an acknowledgement or a snooze."""
    alert = _alert_or_404(pk)
    try:
        changed = alert_services.alert_reopen(alert=alert, user=request.user)
    except ValidationError as exc:
        return _answer(request, pk, error=exc.messages[0], status=409)
    notice = "Reopened." if changed else "Already open."
    return _answer(request, pk, notice=notice if request.htmx else f"{notice} {alert.title}")


@require_POST
@vary_on_headers("HX-Request")
def alerts_read_all(request: AuthedRequest) -> HttpResponse:
    """Mark every unread alert in view read (the filters posted with the button)."""
    try:
        filters = InboxFilterForm(request.POST, user=request.user).filters()
    except InboxFilterError as exc:
        if request.htmx:
            return render(
                request,
                "playbooks/inbox.html#results",
                _context(request, inbox_filters_default(user=request.user), str(exc)),
                status=400,
            )
        messages.error(request, str(exc))
        return redirect("inbox")
    filters.page = 1
    changed = alerts_mark_read(user=request.user, filters=filters)
    note = f"Marked {changed} alert{'s' if changed != 1 else ''} read."
    return _answer_view(request, filters, note)


@require_POST
@vary_on_headers("HX-Request")
def story_acknowledge(request: AuthedRequest) -> HttpResponse:
    """Acknowledge one inbox entry whole: every open part of its story (the filters posted with
    the button keep the page as it was)."""
    story = (request.POST.get("story") or "")[:80]
    try:
        filters = InboxFilterForm(request.POST, user=request.user).filters()
    except InboxFilterError:
        filters = inbox_filters_default(user=request.user)
    filters.page = 1
    changed = alert_services.story_acknowledge(story=story, user=request.user)
    note = f"Acknowledged {changed} alert{'s' if changed != 1 else ''}."
    return _answer_view(request, filters, note)


def _answer_view(request: AuthedRequest, filters: InboxFilters, note: str) -> HttpResponse:
    """After an action on the whole view: htmx gets the results with the note and the nav
    badge; a plain POST a redirect to the inbox with the note as a message."""
    if not request.htmx:
        messages.success(request, note)
        query = filters.as_query()
        return redirect(reverse("inbox") + (f"?{query}" if query else ""))
    context = _context(request, filters)
    context["note"] = note
    results = render_to_string("playbooks/inbox.html#results", context, request=request)
    return HttpResponse(results + _badge(request))
