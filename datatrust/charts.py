"""The freshness chart of an incident: each observation's lag against the dataset's SLA. Built
in Python, shipped as JSON (json_script) and drawn by static/js/charts.js, like health's."""

from __future__ import annotations

from datetime import datetime

from health.charts import FONT

LAG_COLOR = "#3b5bdb"
SLA_COLOR = "#c01c28"
BREACH_FILL = "#fde8e8"


def freshness_lag(
    *,
    dataset: str,
    points: list[tuple[datetime, float]],
    sla: int | None,
    breach: tuple[datetime | None, datetime | None] | None = None,
) -> dict:
    """Lag per observation (markers over the SLA in red), the SLA as a dashed line, and the
    incident's span (opened → resolved, or to the last observation) shaded."""
    xs = [at.isoformat() for at, _ in points]
    lags = [lag for _, lag in points]
    colors = [SLA_COLOR if sla is not None and lag > sla else LAG_COLOR for lag in lags]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Lag (minutes)",
            "x": xs,
            "y": lags,
            "line": {"color": LAG_COLOR, "width": 2},
            "marker": {"size": 7, "color": colors},
            "hovertemplate": "%{x|%b %d %H:%M} UTC: %{y:.0f} min<extra></extra>",
        }
    ]
    if sla is not None and xs:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"SLA ({sla} min)",
                "x": [xs[0], xs[-1]],
                "y": [sla, sla],
                "line": {"color": SLA_COLOR, "dash": "dash", "width": 1.5},
                "hoverinfo": "skip",
            }
        )
    shapes = []
    if breach is not None and breach[0] is not None and xs:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": breach[0].isoformat(),
                "x1": breach[1].isoformat() if breach[1] else xs[-1],
                "y0": 0,
                "y1": 1,
                "fillcolor": BREACH_FILL,
                "opacity": 0.6,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    title = f"{dataset}: lag behind the chain tip" + (f" vs its {sla}-minute SLA" if sla else "")
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
            "font": FONT,
            "height": 300,
            "margin": {"l": 56, "r": 16, "t": 40, "b": 70},
            "xaxis": {
                "title": {"text": "Observed at (UTC)"},
                "type": "date",
                "gridcolor": "#eef0f4",
            },
            "yaxis": {
                "title": {"text": "Lag (minutes)"},
                "gridcolor": "#eef0f4",
                "rangemode": "tozero",
            },
            "legend": {"orientation": "h", "y": -0.3, "yanchor": "top", "x": 0},
            "shapes": shapes,
            "plot_bgcolor": "#fff",
            "paper_bgcolor": "#fff",
        },
    }
