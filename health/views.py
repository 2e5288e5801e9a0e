from __future__ import annotations

import math
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors as account_selectors
from accounts.permissions import can_edit_health_model
from cs_portal.http import AuthedRequest

from . import aggregates, backtest, charts, selectors, services
from .engine import SIGNAL_KEYS, SIGNAL_LABELS, WINDOW_DAYS, window_start
from .forms import BACKTEST_HORIZON_DAYS, BacktestForm, DraftModelForm, HealthTabForm
from .landing import usage_landed_through
from .models import HealthModel, Metric


@require_GET
def account_health(request: AuthedRequest, external_id: str) -> HttpResponse:
    """The Health tab: score, band, overrides, the breakdown, and the charts behind them."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    form = HealthTabForm(request.GET)
    as_of = form.cleaned_data["as_of"] if form.is_valid() else None
    error = " ".join(form.errors.get("as_of", []))
    snapshot = selectors.account_snapshot(account=account, as_of=as_of)
    context = {
        **account_selectors.account_header(user=request.user, account=account, snapshot=snapshot),
        "error": error,
        "asked_as_of": as_of,
        "usage_landed": snapshot is not None or usage_landed_through() is not None,
        "charts": {},
    }
    if snapshot is not None:
        burn = selectors.commit_burn_up(account=account, as_of=snapshot.date)
        keys = _chart_keys(burn)
        # An htmx visit gets placeholders that load each chart as it scrolls into view; a
        # plain page load ships every figure in the one response.
        context["lazy_charts"] = bool(request.htmx)
        context["charts"] = (
            dict.fromkeys(keys)
            if request.htmx
            else {key: _chart_figure(key, account, snapshot, burn) for key in keys}
        )
        context["burn"] = burn
        context["not_applying"] = [s for s in snapshot.signals if not s["applies"]]
    status = 400 if error else 200
    return render(request, "health/account_health.html", context, status=status)


CHART_KEYS = ("trend", "units_product", "units_chain", "queries", "users", "burn_up")


def _chart_keys(burn: selectors.BurnUp | None) -> list[str]:
    """The charts the tab shows, in order: the burn-up only with committed units consumed."""
    has_burn = burn is not None and bool(burn.consumed)
    return [key for key in CHART_KEYS if key != "burn_up" or has_burn]


def _chart_figure(key: str, account, snapshot, burn: selectors.BurnUp | None) -> dict:
    """One of the tab's Plotly figures over the model's 90-day window ending on the snapshot."""
    until = snapshot.date
    start = window_start(until)
    if key == "trend":
        history = selectors.score_history(account_ids=[account.pk], since=start, until=until)
        model = snapshot.model
        return charts.health_trend(
            history.get(account.pk, []),
            green_min=model.green_min,
            yellow_min=model.yellow_min,
            until=until,
        )
    if key in ("units_product", "units_chain"):
        dimension = key.removeprefix("units_")
        return charts.stacked_usage(
            selectors.usage_by(
                account=account, metric=Metric.UNITS, dimension=dimension, start=start, end=until
            ),
            title=f"Units by {dimension}",
            y_title="Units per day",
            until=until,
        )
    if key == "queries":
        return charts.usage_line(
            selectors.usage_daily(account=account, metric=Metric.QUERIES, start=start, end=until),
            title="Queries per day",
            y_title="Queries",
            until=until,
        )
    if key == "users":
        return charts.usage_line(
            selectors.usage_daily(
                account=account, metric=Metric.ACTIVE_USERS, start=start, end=until
            ),
            title="Active users per day",
            y_title="Active users",
            until=until,
            color="#12805c",
        )
    return charts.burn_up(burn)


@require_GET
def account_health_chart(request: AuthedRequest, external_id: str, key: str) -> HttpResponse:
    """One chart of the Health tab, for the tab to load lazily (the same `as_of` as the tab)."""
    account = account_selectors.account_detail_or_404(external_id=external_id)
    form = HealthTabForm(request.GET)
    as_of = form.cleaned_data["as_of"] if form.is_valid() else None
    snapshot = selectors.account_snapshot(account=account, as_of=as_of)
    if snapshot is None or key not in CHART_KEYS:
        raise Http404("No such chart for this account")
    burn = selectors.commit_burn_up(account=account, as_of=snapshot.date)
    if key not in _chart_keys(burn):
        raise Http404("No such chart for this account")
    figure = _chart_figure(key, account, snapshot, burn)
    return render(request, "health/_chart.html", {"key": key, "fig": figure})


def _model_context(request: AuthedRequest, current: HealthModel) -> dict:
    return {
        "current": current,
        "history": selectors.model_history()[:20],
        "rows": [(k, SIGNAL_LABELS[k], current.weights.get(k, 0)) for k in SIGNAL_KEYS],
        "weight_total": sum(float(current.weights.get(k, 0)) for k in SIGNAL_KEYS),
        "can_edit": can_edit_health_model(request.user),
        "errors": {},
        "preview": None,
        "backtest_query": "",
    }


def _draft_query(weights: dict[str, float], green: int | None, yellow: int | None) -> dict:
    """A draft model as the backtest panel's query parameters (the editor's own field names)."""
    query = {f"w_{k}": f"{weights.get(k, 0):g}" for k in SIGNAL_KEYS}
    query.update(
        {k: "" if v is None else str(v) for k, v in [("green_min", green), ("yellow_min", yellow)]}
    )
    return query


@require_http_methods(["GET", "POST"])
def health_model(request: AuthedRequest) -> HttpResponse:
    """Managers tune the weights and thresholds; every save is a new version."""
    current = services.health_model_current()
    context = _model_context(request, current)
    if request.method == "GET":
        return render(request, "health/model.html", context)
    if not can_edit_health_model(request.user):
        raise PermissionDenied("Only a CS manager can change the health model.")
    form = DraftModelForm(request.POST, current=current)
    form.is_valid()
    weights, errors = form.cleaned_data["weights"], form.signal_errors()
    green, yellow = form.cleaned_data.get("green_min"), form.cleaned_data.get("yellow_min")
    if not errors:
        try:
            services.health_model_validate(weights=weights, green_min=green, yellow_min=yellow)
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    context["rows"] = [(k, SIGNAL_LABELS[k], request.POST.get(f"w_{k}", "")) for k in SIGNAL_KEYS]
    # The running total under the table; what cannot be read counts 0 there.
    context["weight_total"] = sum(w for w in weights.values() if math.isfinite(w))
    context["green_min"] = request.POST.get("green_min", "") if green is None else green
    context["yellow_min"] = request.POST.get("yellow_min", "") if yellow is None else yellow
    context["note"] = form.cleaned_data.get("note", "")
    if errors:
        context["errors"] = errors
        template = "health/model.html#editor" if request.htmx else "health/model.html"
        return render(request, template, context, status=422)
    if request.POST.get("action") == "preview":
        context["preview"] = services.health_model_preview(
            weights=weights, green_min=green, yellow_min=yellow
        )
        # The preview loads the backtest of this draft beside the current model's, lazily.
        context["backtest_query"] = urlencode(_draft_query(weights, green, yellow))
        template = "health/model.html#editor" if request.htmx else "health/model.html"
        return render(request, template, context)
    model = services.health_model_create(
        weights=weights,
        green_min=green,
        yellow_min=yellow,
        note=form.cleaned_data["note"],
        created_by=request.user,
    )
    if services.tasks_inline():
        messages.success(request, f"Saved health model v{model.version} and rescored the book.")
    else:
        messages.success(
            request,
            f"Saved health model v{model.version}; the book is being rescored with it in the "
            "background (scores update within a minute).",
        )
    if request.htmx:
        return HttpResponseClientRedirect(request.path, status=204)
    return redirect("health_model")


def _backtest_panel(request: AuthedRequest, current: HealthModel) -> dict:
    """Everything the backtest panel shows: the as-of day and horizon asked for (or the
    defaults), then either both backtests and the sentence comparing them, or why not (an
    input to fix, or an empty state when the book does not hold enough usage)."""
    landed = usage_landed_through()
    first = aggregates.data_since() if landed else None
    panel: dict = {
        "landed": landed,
        "first": first,
        "horizon": BACKTEST_HORIZON_DAYS,
        "min_horizon": backtest.MIN_HORIZON_DAYS,
        "max_horizon": backtest.MAX_HORIZON_DAYS,
        "as_of": landed - timedelta(days=BACKTEST_HORIZON_DAYS) if landed else None,
        "error": "",
        "empty": "",
        "ready": True,
    }
    window = BacktestForm(request.GET)
    if window.is_valid():
        panel["horizon"] = window.cleaned_data["horizon"]
        panel["as_of"] = window.cleaned_data["as_of"] or panel["as_of"]
    panel["error"] = window.first_error()
    horizon = panel["horizon"]

    # The draft: the weights and thresholds the manager previewed; the current model if none.
    weights = {k: float(current.weights.get(k, 0)) for k in SIGNAL_KEYS}
    green, yellow = current.green_min, current.yellow_min
    if any(f"w_{k}" in request.GET for k in SIGNAL_KEYS):
        draft_form = DraftModelForm(request.GET, current=current)
        draft_form.is_valid()
        weights, errors = draft_form.cleaned_data["weights"], draft_form.signal_errors()
        green = draft_form.cleaned_data["green_min"]
        yellow = draft_form.cleaned_data["yellow_min"]
        if not errors:
            try:
                services.health_model_validate(weights=weights, green_min=green, yellow_min=yellow)
            except ValidationError as exc:
                errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
        if errors and not panel["error"]:
            panel["error"] = "The draft cannot be backtested: " + "; ".join(
                f"{k}: {msg}" for k, msg in errors.items()
            )
    draft = {k: weights.get(k, 0) for k in SIGNAL_KEYS}
    is_draft = (draft, green, yellow) != (
        {k: float(current.weights.get(k, 0)) for k in SIGNAL_KEYS},
        current.green_min,
        current.yellow_min,
    )
    panel["is_draft"] = is_draft
    panel["draft_fields"] = _draft_query(weights, green, yellow) if is_draft else {}
    if panel["error"]:
        return panel

    as_of = panel["as_of"]
    needs = f"The backtest needs {horizon} days of usage after the as-of date"
    if landed is None or first is None:
        panel["empty"] = f"{needs}, and no usage has landed yet."
    elif (landed - first).days < horizon:
        held = (landed - first).days + 1
        panel["empty"] = (
            f"{needs}; the book holds {held} day{'s' if held != 1 else ''} of usage so far "
            f"({first} to {landed}). Try a shorter horizon, or come back once more has landed."
        )
    elif as_of + timedelta(days=horizon) > landed:
        latest = landed - timedelta(days=horizon)
        panel["empty"] = (
            f"{needs}, and usage has landed only through {landed}: {max(0, (landed - as_of).days)} "
            f"days after {as_of}. Pick an as-of date on or before {latest}."
        )
    elif as_of < first:
        panel["empty"] = (
            f"The book's usage starts on {first}: on {as_of} there was nothing to score. "
            f"{needs}, and some before it too."
        )
    if panel["empty"]:
        return panel

    # The model reads the 90 days up to and including the day it scores.
    seen = (as_of - first).days + 1
    if seen < WINDOW_DAYS:
        panel["short_lookback"] = seen
    now = backtest.backtest_model_run(as_of=as_of, horizon_days=horizon, model=current)
    panel["current"] = now
    if is_draft:
        new = backtest.backtest_run(
            as_of=as_of, horizon_days=horizon, weights=draft, green_min=green, yellow_min=yellow
        )
        panel["draft"] = new
        panel["sentence"] = backtest.backtest_compare(now, new)
    panel["columns"] = [now, new] if is_draft else [now]
    panel["rows"] = _backtest_rows(panel["columns"])
    panel["outcome_words"] = backtest.reason_words([k for k, n in now.reasons.items() if n])
    bad_rate = backtest.rate(now.bad, now.accounts)
    panel["bad_rate"] = "—" if bad_rate is None else f"{bad_rate:.0%}"
    return panel


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}".replace("-", "−")


def _backtest_rows(columns: list[backtest.Backtest]) -> list[dict]:
    """The side-by-side table, one row per figure and one cell per model, formatted here so
    the template stays dumb. `better` marks the draft's cell when it improves on the current
    model (+1) or does worse (-1), for the figures where more or less is plainly better."""

    def auc(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    def band(bt: backtest.Backtest, name: str) -> str:
        row = next(r for r in bt.bands if r["band"] == name)
        if not row["accounts"]:
            return "— (no accounts)"
        return f"{row['bad_rate']:.0%} ({row['bad']} of {row['accounts']})"

    first = columns[0]
    rows = [
        {
            "key": "auc",
            "label": "AUC",
            "sub": "ranking the bad accounts first; 0.5 is a coin toss, 1 is perfect",
            "values": [c.model.auc for c in columns],
            "cells": [auc(c.model.auc) for c in columns],
            "higher": True,
        }
    ]
    for i, baseline in enumerate(first.baselines):
        rows.append(
            {
                "key": f"vs_{baseline.key}",
                "label": f"vs {baseline.label}",
                "sub": f"a naive ranking, AUC {auc(baseline.auc)}",
                "values": [c.beats_by(c.baselines[i]) for c in columns],
                "cells": [_signed(c.beats_by(c.baselines[i])) for c in columns],
                "higher": True,
            }
        )
    for name in backtest.BANDS:
        rows.append(
            {
                "key": f"band_{name}",
                "label": f"{name.capitalize()} went bad",
                "sub": "",
                "band": name,
                "values": [None for _ in columns],
                "cells": [band(c, name) for c in columns],
                "higher": None,
            }
        )
    rows += [
        {
            "key": "lift",
            "label": "Lift",
            "sub": "red's bad rate ÷ green's",
            "values": [c.lift for c in columns],
            "cells": ["—" if c.lift is None else f"{c.lift:.1f}×" for c in columns],
            "higher": True,
        },
        {
            "key": "flagged",
            "label": "Bad accounts flagged",
            "sub": "red or yellow on the day",
            "values": [c.confusion["bad_flagged"] for c in columns],
            "cells": [f"{c.confusion['bad_flagged']} of {c.confusion['bad']}" for c in columns],
            "higher": True,
        },
        {
            "key": "missed",
            "label": "Bad accounts missed",
            "sub": "green on the day",
            "values": [c.confusion["bad_missed"] for c in columns],
            "cells": [str(c.confusion["bad_missed"]) for c in columns],
            "higher": False,
        },
        {
            "key": "false_alarms",
            "label": "False alarms",
            "sub": "flagged, and nothing went wrong",
            "values": [c.confusion["false_alarms"] for c in columns],
            "cells": [str(c.confusion["false_alarms"]) for c in columns],
            "higher": False,
        },
    ]
    for row in rows:
        row["better"] = 0
        if len(columns) == 2 and row["higher"] is not None and None not in row["values"]:
            now, new = row["values"]
            if round(new - now, 6):
                row["better"] = 1 if (new > now) == row["higher"] else -1
    return rows


@require_GET
def health_model_backtest(request: AuthedRequest) -> HttpResponse:
    """The editor's backtest panel: the current model and the draft (weights and thresholds in
    the query, as the preview sent them) scored as of a past day, writing nothing, and judged
    by what happened next. htmx gets the panel; a plain request gets the whole editor page
    with the panel filled in."""
    current = services.health_model_current()
    panel = _backtest_panel(request, current)
    if request.htmx:
        response = render(
            request,
            "health/model.html#backtest",
            {"bt": panel},
            status=400 if panel["error"] else 200,
        )
    else:
        context = _model_context(request, current)
        if panel["is_draft"]:
            draft = panel["draft_fields"]
            context["rows"] = [(k, SIGNAL_LABELS[k], draft[f"w_{k}"]) for k in SIGNAL_KEYS]
            context["weight_total"] = sum(float(draft[f"w_{k}"]) for k in SIGNAL_KEYS)
            context["green_min"] = draft["green_min"]
            context["yellow_min"] = draft["yellow_min"]
        context["bt"] = panel
        response = render(
            request, "health/model.html", context, status=400 if panel["error"] else 200
        )
    patch_vary_headers(response, ("HX-Request",))
    return response
