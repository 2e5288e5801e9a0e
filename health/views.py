from __future__ import annotations

import math
from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors as account_selectors
from accounts.access import can_change_tier, can_edit_account
from cs_portal.http import AuthedRequest

from . import charts, selectors, services
from .engine import SIGNAL_KEYS, SIGNAL_LABELS
from .landing import usage_landed_through
from .models import Metric


def _parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"as_of must be a date in YYYY-MM-DD form, not '{raw}'") from None


@require_GET
def account_health(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Health tab: score, band, overrides, the breakdown, and the charts behind them."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    error, as_of = "", None
    if request.GET.get("as_of"):
        try:
            as_of = _parse_day(request.GET["as_of"])
        except ValidationError as exc:
            error = exc.messages[0]
    snapshot = selectors.account_snapshot(account=account, as_of=as_of)
    context = {
        "account": account,
        "progress": account_selectors.contract_progress(account=account),
        "can_edit": can_edit_account(request.user, account),
        "can_change_tier": can_change_tier(request.user),
        "snapshot": snapshot,
        "error": error,
        "asked_as_of": as_of,
        "usage_landed": snapshot is not None or usage_landed_through() is not None,
        "charts": {},
    }
    if snapshot is not None:
        until = snapshot.date
        model = snapshot.model
        history = selectors.score_history(
            account_ids=[account.pk], since=until - timedelta(days=89), until=until
        )
        start = until - timedelta(days=89)
        figs = {
            "trend": charts.health_trend(
                history.get(account.pk, []),
                green_min=model.green_min,
                yellow_min=model.yellow_min,
                until=until,
            ),
            "units_product": charts.stacked_usage(
                selectors.usage_by(
                    account=account,
                    metric=Metric.UNITS,
                    dimension="product",
                    start=start,
                    end=until,
                ),
                title="Units by product",
                y_title="Units per day",
                until=until,
            ),
            "units_chain": charts.stacked_usage(
                selectors.usage_by(
                    account=account, metric=Metric.UNITS, dimension="chain", start=start, end=until
                ),
                title="Units by chain",
                y_title="Units per day",
                until=until,
            ),
            "queries": charts.usage_line(
                selectors.usage_daily(
                    account=account, metric=Metric.QUERIES, start=start, end=until
                ),
                title="Queries per day",
                y_title="Queries",
                until=until,
            ),
            "users": charts.usage_line(
                selectors.usage_daily(
                    account=account, metric=Metric.ACTIVE_USERS, start=start, end=until
                ),
                title="Active users per day",
                y_title="Active users",
                until=until,
                color="#12805c",
            ),
        }
        burn = selectors.commit_burn_up(account=account, as_of=until)
        if burn is not None and burn.consumed:
            figs["burn_up"] = charts.burn_up(burn)
        context["charts"] = figs
        context["burn"] = burn
        context["not_applying"] = [s for s in snapshot.signals if not s["applies"]]
    status = 400 if error else 200
    return render(request, "health/account_health.html", context, status=status)


def _weights_from(post) -> tuple[dict[str, float], dict[str, str]]:
    weights, errors = {}, {}
    for key in SIGNAL_KEYS:
        raw = (post.get(f"w_{key}") or "0").strip()
        try:
            weights[key] = float(raw)
        except ValueError:
            errors[key] = f"'{raw}' is not a number"
    return weights, errors


def _int(raw: str | None, default: int) -> int:
    try:
        return int((raw or "").strip())
    except ValueError:
        return -1 if raw else default


@require_http_methods(["GET", "POST"])
def health_model(request: AuthedRequest) -> HttpResponse:
    """Managers tune the weights and thresholds; every save is a new version."""
    current = services.health_model_current()
    context = {
        "current": current,
        "history": selectors.model_history()[:20],
        "rows": [(k, SIGNAL_LABELS[k], current.weights.get(k, 0)) for k in SIGNAL_KEYS],
        "weight_total": sum(float(current.weights.get(k, 0)) for k in SIGNAL_KEYS),
        "can_edit": can_change_tier(request.user),
        "errors": {},
        "preview": None,
    }
    if request.method == "GET":
        return render(request, "health/model.html", context)
    if not can_change_tier(request.user):
        raise PermissionDenied("Only a CS manager can change the health model.")
    weights, errors = _weights_from(request.POST)
    green = _int(request.POST.get("green_min"), current.green_min)
    yellow = _int(request.POST.get("yellow_min"), current.yellow_min)
    if not errors:
        try:
            services.health_model_validate(weights=weights, green_min=green, yellow_min=yellow)
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    context["rows"] = [(k, SIGNAL_LABELS[k], request.POST.get(f"w_{k}", "")) for k in SIGNAL_KEYS]
    # The running total under the table; what cannot be read counts 0 there.
    context["weight_total"] = sum(w for w in weights.values() if math.isfinite(w))
    context["green_min"], context["yellow_min"] = green, yellow
    context["note"] = request.POST.get("note", "")
    if errors:
        context["errors"] = errors
        template = "health/model.html#editor" if request.htmx else "health/model.html"
        return render(request, template, context, status=422)
    if request.POST.get("action") == "preview":
        context["preview"] = services.health_model_preview(
            weights=weights, green_min=green, yellow_min=yellow
        )
        template = "health/model.html#editor" if request.htmx else "health/model.html"
        return render(request, template, context)
    model = services.health_model_create(
        weights=weights,
        green_min=green,
        yellow_min=yellow,
        note=request.POST.get("note", ""),
        created_by=request.user,
    )
    services.health_recompute(model=model)
    messages.success(request, f"Saved health model v{model.version} and rescored the book.")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = request.path
        return response
    return redirect("health_model")
