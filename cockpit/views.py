"""The manager cockpit: a page of panels, each loaded as its own htmx fragment."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.models import Tier
from accounts.permissions import can_edit_routing, is_csm, sees_whole_team
from accounts.selectors import csm_choices
from cs_portal import clock
from cs_portal.http import AuthedRequest
from cs_portal.params import query_string
from health.engine import QBR_CADENCE_DAYS
from playbooks.routing.selectors import alert_noise, noise_window
from qbr.selectors import TIER2_RENEWAL_DAYS

from . import charts, selectors
from .forms import MOVE_PERIODS, PanelForm
from .retention import usage_since
from .rules import BENCHMARK, MOVEMENTS, year_before

PANELS = (
    ("tiers", "Tier distribution"),
    ("health", "Health over time"),
    ("renewals", "Renewals ahead"),
    ("retention", "Retention"),
    ("workload", "Workload"),
)


def book_link(scoped: bool, **filters) -> str:
    """The book filtered as a panel's number counts it; a CSM's links stay on their book."""
    if scoped:
        filters.setdefault("csm", "me")
    else:
        filters.setdefault("csm", "all")
    return f"{reverse('book')}?{query_string(filters)}"


@require_GET
def cockpit(request: AuthedRequest) -> HttpResponse:
    """The manager's home: the panels' frames, each filled by its own request after the page."""
    ids = selectors.book_ids(user=request.user)
    panels = [(key, title, reverse("cockpit_panel", args=[key])) for key, title in PANELS]
    context = {"panels": panels, "scoped": ids is not None, "no_book": ids == []}
    return render(request, "cockpit/cockpit.html", context)


def _tiers(request: AuthedRequest, ids, values: dict, scoped: bool) -> dict:
    panel = selectors.tier_panel(account_ids=ids, on=clock.today(), days=values["days"])
    for line in panel.lines:
        line.href = book_link(scoped, tier=line.tier)
    return {
        "panel": panel,
        "periods": MOVE_PERIODS,
        "days": values["days"],
        "book_href": book_link(scoped),
        "fig": charts.tier_moves(panel.by_month, days=values["days"]) if panel.by_month else None,
    }


def _health(request: AuthedRequest, ids, values: dict, scoped: bool) -> dict:
    tier, csm = values["tier"], None if scoped else values["csm"]
    panel = selectors.health_panel(account_ids=ids, on=clock.today(), tier=tier, csm_id=csm)
    where = {"tier": tier or "", "csm": csm or ""}
    scope_label = " · ".join(
        part
        for part in (
            f"tier {tier}" if tier else "",
            next((u.display_name for u in csm_choices() if u.pk == csm), "") if csm else "",
        )
        if part
    )
    suffix = f" ({scope_label})" if scope_label else ""
    figs = {}
    if panel.days:
        figs = {
            "health-accounts": charts.band_share(
                panel.days, panel.accounts, title=f"Share of accounts by band, 90 days{suffix}"
            ),
            "health-arr": charts.band_share(
                panel.days,
                panel.arr,
                title=f"Share of ARR by band, 90 days{suffix} (weighted by today's ARR)",
            ),
        }
    return {
        "panel": panel,
        "figs": figs,
        "tier": tier,
        "csm": csm,
        "tiers": Tier.choices,
        "csms": [] if scoped else csm_choices(),
        "band_links": {band: book_link(scoped, band=band, **where) for band in selectors.BANDS},
    }


def _renewals(request: AuthedRequest, ids, values: dict, scoped: bool) -> dict:
    panel = selectors.renewal_panel(account_ids=ids, on=clock.today(), window=values["window"])
    return {
        "panel": panel,
        "window_links": {
            days: book_link(scoped, renewal=days, sort="renewal")
            for days in selectors.RENEWAL_WINDOWS
        },
        "fig": charts.renewals_by_month(panel.by_month) if panel.by_month else None,
    }


def _retention(request: AuthedRequest, ids, values: dict, scoped: bool) -> dict:
    panel = selectors.retention_panel(account_ids=ids, as_of=values["as_of"])
    has_data = any(p.contract.cohort_accounts or p.consumption.cohort_accounts for p in panel.trend)
    return {
        "panel": panel,
        "as_of": values["as_of"],
        "cohort_day": year_before(values["as_of"]),
        "kinds": MOVEMENTS,
        "benchmark": BENCHMARK,
        "benchmark_text": {
            key: f"{BENCHMARK[key][0] * 100:.0f}–{BENCHMARK[key][1] * 100:.0f} %"
            for key in ("nrr", "grr")
        },
        "usage_since": usage_since(),
        "consumption_from": year_before(year_before(values["as_of"])),
        "fig": charts.retention_trend(panel.trend) if has_data else None,
    }


def _workload(request: AuthedRequest, ids, values: dict, scoped: bool) -> dict:
    panel = selectors.workload_panel(account_ids=ids, on=clock.today(), user=request.user)
    for line in panel.lines:
        who = line.person.pk if line.person else "none"
        line.href = book_link(scoped, csm=who)
        line.risk_href = book_link(scoped, csm=who, sort="risk")
    return {
        "panel": panel,
        "qbr_tier1_days": QBR_CADENCE_DAYS,
        "qbr_tier2_days": TIER2_RENEWAL_DAYS,
    }


BUILDERS: dict[str, Callable[..., dict]] = {
    "tiers": _tiers,
    "health": _health,
    "renewals": _renewals,
    "retention": _retention,
    "workload": _workload,
}


@require_GET
def cockpit_panel(request: AuthedRequest, name: str) -> HttpResponse:
    """One panel: the fragment for htmx, or a page holding it for a plain request."""
    build = BUILDERS.get(name)
    if build is None:
        raise Http404("No such panel")
    values, problem = PanelForm(request.GET).values()
    ids = selectors.book_ids(user=request.user)
    scoped = ids is not None
    context = build(request, ids, values, scoped)
    context.update(
        name=name,
        title=dict(PANELS)[name],
        url=reverse("cockpit_panel", args=[name]),
        problem=problem,
        scoped=scoped,
        today=clock.today(),
    )
    template = f"cockpit/panels/{name}.html"
    if request.htmx:
        return render(request, template, context)
    return render(request, "cockpit/panel_page.html", {**context, "panel_template": template})


@require_GET
@vary_on_headers("HX-Request")
def cockpit_noise(request: AuthedRequest) -> HttpResponse:
    """Alert noise over the last four weeks: alerts per CSM per week and the share acted on
    (computed by playbooks' routing); a CSM sees their own row, a manager every CSM's."""
    since, until = noise_window()
    csm = None if sees_whole_team(request.user) or not is_csm(request.user) else request.user
    context = {
        "noise": alert_noise(since=since, until=until, csm=csm),
        "can_edit_routing": can_edit_routing(request.user),
    }
    if request.htmx:
        return render(request, "cockpit/panels/noise.html", context)
    return render(
        request,
        "cockpit/panel_page.html",
        {
            **context,
            "name": "noise",
            "title": "Alert noise",
            "panel_template": "cockpit/panels/noise.html",
        },
    )
