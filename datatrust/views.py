from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import can_import
from cs_portal.http import AuthedRequest
from cs_portal.params import query_string
from health.models import IncidentKind

from . import charts, selectors, services
from .forms import DatasetForm, IncidentFilterForm
from .models import Dataset

INCIDENTS_PER_PAGE = 25


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
def dataset_list(request: AuthedRequest) -> HttpResponse:
    """The catalogue: SLA, latest lag, status, who used each dataset lately, open incidents."""
    rows = selectors.datasets_overview()
    context = {
        "rows": rows,
        "can_edit": can_import(request.user),
        "over": sum(1 for r in rows if r.status == "over_sla"),
        "window_days": selectors.TRUST_WINDOW_DAYS,
    }
    return render(request, "datatrust/datasets.html", context)


@require_http_methods(["GET", "POST"])
def dataset_edit(request: AuthedRequest, name: str | None = None) -> HttpResponse:
    """Managers add a dataset or change its chains, SLA and description; others may not."""
    if not can_import(request.user):
        raise PermissionDenied("Only CS managers and admins change the dataset catalogue.")
    dataset = None
    if name is not None:
        dataset = Dataset.objects.filter(name=name).first() if "\x00" not in name else None
        if dataset is None:
            raise Http404("No dataset with that name")
    form = DatasetForm(request.POST or None, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        saved = services.dataset_save(
            dataset=dataset,
            name=form.cleaned_data["name"],
            chains=form.cleaned_data["chains"],
            freshness_sla_minutes=form.cleaned_data["freshness_sla_minutes"],
            description=form.cleaned_data["description"],
            by=request.user,
        )
        messages.success(request, f"Saved {saved.name}.")
        return redirect("datasets")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "datatrust/dataset_edit.html", {"form": form, "dataset": dataset}, status=status
    )


@require_GET
def incident_list(request: AuthedRequest) -> HttpResponse:
    """Incidents newest first, filtered by status and kind, each with its accounts and ARR."""
    form = IncidentFilterForm(request.GET)
    form.is_valid()
    problems = form.problems()
    status, kind = form.cleaned_data["status"], form.cleaned_data["kind"]
    number = form.cleaned_data.get("page", 1)
    page = Paginator(form.incidents(), INCIDENTS_PER_PAGE).get_page(number)
    context = {
        "page": page,
        "rows": selectors.incidents_with_reach(list(page.object_list)),
        "status": status,
        "kind": kind,
        "statuses": [("open", "Open"), ("resolved", "Resolved")],
        "kinds": IncidentKind.choices,
        "filters": query_string({"status": status, "kind": kind}),
        "error": "; ".join(problems),
        "total": selectors.incidents_filtered().count(),
    }
    template = "datatrust/incidents.html#rows" if request.htmx else "datatrust/incidents.html"
    return _vary(render(request, template, context, status=400 if problems else 200))


@require_GET
def incident_detail(request: AuthedRequest, key: str) -> HttpResponse:
    """One incident: what it touches, the accounts it reaches, and how it unfolded."""
    incident = selectors.incident_or_404(key=key)
    accounts = selectors.affected_accounts(incident)
    heads_ups = list(selectors.incident_heads_ups(incident))
    observations = selectors.incident_observations(incident)
    figures = {}
    end = incident.resolved_at
    if end is None and incident.resolved:
        end = datetime.combine(incident.resolved, datetime.min.time(), UTC)
    breach = (services.breach_first_at(incident), end)
    for n, (dataset, points) in enumerate(observations.items()):
        figures[f"lag-{n}"] = charts.freshness_lag(
            dataset=dataset.name,
            points=points,
            sla=dataset.freshness_sla_minutes,
            breach=breach,
        )
    by_account = {h.account_id: h for h in heads_ups}
    for account in accounts:
        account.heads_up = by_account.get(account.pk)
    context = {
        "incident": incident,
        "accounts": accounts,
        "arr": sum(a.current_arr for a in accounts),
        "heads_ups": heads_ups,
        "tasks": sum(1 for h in heads_ups if h.task_id),
        "nudges": sum(1 for h in heads_ups if h.nudge_id),
        "charts": figures,
        # With one plain dataset, "what they used" says the same thing on every row.
        "show_used": len(incident.datasets) != 1 or "*" in incident.datasets[0],
        "timeline": _timeline(incident, heads_ups, observations),
        "window_days": (
            selectors.SCHEMA_WINDOW_DAYS
            if incident.kind == IncidentKind.SCHEMA_CHANGE
            else selectors.TRUST_WINDOW_DAYS
        ),
        "catalogued": set(
            Dataset.objects.filter(name__in=incident.datasets).values_list("name", flat=True)
        ),
    }
    return render(request, "datatrust/incident.html", context)


def _timeline(incident, heads_ups, observations) -> list[dict]:
    """Started, opened, heads-ups, observations over the SLA, takes effect, resolved: oldest
    first. Each entry: at (date or datetime), title, detail, kind (for the dot's colour)."""
    entries: list[dict] = [
        {
            "at": services.breach_first_at(incident) if incident.auto else incident.started,
            "title": "Announced" if incident.kind == IncidentKind.SCHEMA_CHANGE else "Started",
            "detail": "the first of three observations in a row over the SLA"
            if incident.auto
            else incident.title,
            "kind": "start",
        }
    ]
    if incident.opened_at:
        entries.append(
            {
                "at": incident.opened_at,
                "title": "Opened by the freshness monitor",
                "detail": "the third observation in a row over the SLA",
                "kind": "open",
            }
        )
    for dataset, points in observations.items():
        sla = dataset.freshness_sla_minutes
        over = [(at, lag) for at, lag in points if sla is not None and lag > sla]
        if over:
            worst = max(over, key=lambda p: p[1])
            entries.append(
                {
                    "at": worst[0],
                    "title": f"Worst lag on {dataset.name}: {worst[1]:.0f} min",
                    "detail": f"{len(over)} of {len(points)} observations shown were over the "
                    f"{sla}-minute SLA",
                    "kind": "obs",
                }
            )
    if heads_ups:
        first = min(h.created_at for h in heads_ups)
        tasks = sum(1 for h in heads_ups if h.task_id)
        nudges = sum(1 for h in heads_ups if h.nudge_id)
        entries.append(
            {
                "at": first,
                "title": f"Heads-up sent to {len(heads_ups)} account"
                f"{'s' if len(heads_ups) != 1 else ''}",
                "detail": f"{tasks} task{'s' if tasks != 1 else ''} for CSMs, "
                f"{nudges} nudge{'s' if nudges != 1 else ''} to digital-tier accounts",
                "kind": "heads_up",
            }
        )
    if incident.effective:
        entries.append(
            {"at": incident.effective, "title": "Takes effect", "detail": "", "kind": "effective"}
        )
    if incident.resolved:
        entries.append(
            {
                "at": incident.resolved_at or incident.resolved,
                "title": "Resolved",
                "detail": "lag back within the SLA" if incident.auto else "",
                "kind": "resolved",
            }
        )

    def sort_key(entry):
        at = entry["at"]
        if isinstance(at, datetime):
            return at
        return datetime.combine(at, datetime.min.time(), UTC)

    for entry in entries:
        entry["timed"] = isinstance(entry["at"], datetime)
    return sorted(entries, key=sort_key)
