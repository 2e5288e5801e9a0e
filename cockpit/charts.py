"""The cockpit's Plotly figures, built in Python and shipped as JSON (static/js/charts.js draws
them), in the style of health's charts: a title, named axes, the band colours."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from health.charts import BAND_COLORS, PALETTE
from health.charts import _band as health_band
from health.charts import _layout as health_layout
from health.charts import _threshold_label as threshold_label

from .rules import BENCHMARK

MOVE_COLORS = {
    "promotions": PALETTE[0],
    "relegations": PALETTE[2],
    "new": PALETTE[1],
    "churned": BAND_COLORS["red"],
}


def _layout(title: str, x_title: str, y_title: str, **extra) -> dict:
    """Health's chart layout with the x axis named (and categorical unless a panel says)."""
    extra.setdefault("xaxis", {"title": {"text": x_title}, "gridcolor": "#eef0f4"})
    extra.setdefault("margin", {"l": 60, "r": 16, "t": 40, "b": 80})
    extra.setdefault("legend", {"orientation": "h", "y": -0.3, "yanchor": "top", "x": 0})
    return health_layout(title, y_title, **extra)


def tier_moves(by_month: list[tuple[str, dict[str, int]]], *, days: int) -> dict:
    months = [m for m, _ in by_month]
    return {
        "data": [
            {
                "type": "bar",
                "name": kind.capitalize(),
                "x": months,
                "y": [counts[kind] for _, counts in by_month],
                "marker": {"color": color},
            }
            for kind, color in MOVE_COLORS.items()
        ],
        "layout": _layout(
            f"Tier movements and logos won or lost, last {days} days, by month",
            "Month",
            "Accounts",
            barmode="stack",
            xaxis={"title": {"text": "Month"}, "type": "category"},
        ),
    }


def band_share(days: list[date], shares: dict[str, list[float]], *, title: str) -> dict:
    x = [d.isoformat() for d in days]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "share",
                "name": band.capitalize(),
                "x": x,
                "y": shares[band],
                "line": {"width": 0.5, "color": BAND_COLORS[band]},
                "fillcolor": BAND_COLORS[band],
                "hovertemplate": "%{y:.1f} %",
            }
            for band in ("red", "yellow", "green")
        ],
        "layout": _layout(
            title,
            "Date",
            "Share (%)",
            xaxis={"title": {"text": "Date"}, "type": "date", "gridcolor": "#eef0f4"},
            yaxis={"title": {"text": "Share (%)"}, "range": [0, 100], "gridcolor": "#eef0f4"},
        ),
    }


def renewals_by_month(by_month: list[tuple[str, Decimal, Decimal]]) -> dict:
    months = [m for m, _, _ in by_month]
    green = [float(total - not_green) for _, total, not_green in by_month]
    risky = [float(not_green) for _, _, not_green in by_month]
    share = [
        round(100 * float(not_green / total), 1) if total else 0.0
        for _, total, not_green in by_month
    ]
    return {
        "data": [
            {
                "type": "bar",
                "name": "ARR renewing, green",
                "x": months,
                "y": green,
                "marker": {"color": BAND_COLORS["green"]},
            },
            {
                "type": "bar",
                "name": "ARR renewing, not green",
                "x": months,
                "y": risky,
                "marker": {"color": BAND_COLORS["yellow"]},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Share not green (%)",
                "x": months,
                "y": share,
                "yaxis": "y2",
                "line": {"color": BAND_COLORS["red"], "width": 2},
            },
        ],
        "layout": _layout(
            "ARR renewing by month, next 180 days",
            "Month of renewal",
            "ARR (USD)",
            barmode="stack",
            xaxis={"title": {"text": "Month of renewal"}, "type": "category"},
            yaxis2={
                "title": {"text": "Not green (%)"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 100],
                "showgrid": False,
            },
            margin={"l": 70, "r": 56, "t": 40, "b": 80},
        ),
    }


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value) * 100, 1)


def retention_trend(trend) -> dict:
    x = [p.as_of.isoformat() for p in trend]
    lines = [
        ("NRR, contract", lambda p: p.contract.nrr, PALETTE[0], "solid"),
        ("GRR, contract", lambda p: p.contract.grr, PALETTE[1], "solid"),
        ("NRR, consumption", lambda p: p.consumption.nrr, PALETTE[0], "dot"),
        ("GRR, consumption", lambda p: p.consumption.grr, PALETTE[1], "dot"),
    ]
    nrr_lo, nrr_hi = (float(v) * 100 for v in BENCHMARK["nrr"])
    grr_lo, grr_hi = (float(v) * 100 for v in BENCHMARK["grr"])
    shapes = [
        health_band("#3b5bdb", 0.12, y=(nrr_lo, nrr_hi)),
        health_band("#12805c", 0.12, y=(grr_lo, grr_hi)),
    ]
    annotations = [
        threshold_label(nrr_hi, f"benchmark NRR {nrr_lo:.0f}-{nrr_hi:.0f} %"),
        threshold_label(grr_hi, f"benchmark GRR {grr_lo:.0f}-{grr_hi:.0f} %"),
        {
            "xref": "paper",
            "yref": "paper",
            "x": 0,
            "y": -0.55,
            "showarrow": False,
            "xanchor": "left",
            "text": f"Benchmark: {BENCHMARK['source']}",
            "font": {"size": 10, "color": "#667085"},
        },
    ]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": x,
                "y": [_pct(get(p)) for p in trend],
                "line": {"color": color, "dash": dash, "width": 2},
                "connectgaps": False,
            }
            for name, get, color, dash in lines
        ],
        "layout": _layout(
            "Trailing-12-month NRR and GRR, measured at each month end",
            "Measured on",
            "Retention (%)",
            shapes=shapes,
            annotations=annotations,
            height=380,
            margin={"l": 60, "r": 16, "t": 40, "b": 130},
            legend={"orientation": "h", "y": -0.32, "yanchor": "top", "x": 0},
            xaxis={"title": {"text": "Measured on"}, "type": "date", "gridcolor": "#eef0f4"},
            # Fitted to the lines and the benchmark bands rather than from zero: the story is
            # in a few points either side of 100 %.
            yaxis={"title": {"text": "Retention (%)"}, "gridcolor": "#eef0f4"},
        ),
    }
