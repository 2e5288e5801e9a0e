"""Plotly figures built in Python and shipped as JSON; static/js/charts.js draws them."""

from __future__ import annotations

from datetime import date, timedelta

from .engine import window_start

BAND_COLORS = {"green": "#12805c", "yellow": "#d97706", "red": "#c01c28"}
PALETTE = ["#3b5bdb", "#12805c", "#d97706", "#9333ea", "#0891b2", "#db2777", "#64748b"]
FONT = {"family": "Inter, system-ui, sans-serif", "size": 12, "color": "#1b2330"}


def _layout(title: str, y_title: str, **extra) -> dict:
    layout = {
        "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        "font": FONT,
        "margin": {"l": 56, "r": 16, "t": 40, "b": 40},
        "height": 300,
        "xaxis": {"title": {"text": "Date"}, "type": "date", "gridcolor": "#eef0f4"},
        "yaxis": {"title": {"text": y_title}, "gridcolor": "#eef0f4", "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.32, "yanchor": "top", "x": 0},
        "plot_bgcolor": "#fff",
        "paper_bgcolor": "#fff",
        "hovermode": "x unified",
    }
    layout.update(extra)
    return layout


def health_trend(history: list, *, green_min: int, yellow_min: int, until: date) -> dict:
    days = [d.isoformat() for d, _, _ in history]
    start = window_start(until).isoformat()
    shapes = [
        _band("#e3f5ec", 0.5, y=(green_min, 100)),
        _band("#fef0c7", 0.5, y=(yellow_min, green_min)),
        _band("#fde8e8", 0.5, y=(0, yellow_min)),
    ]
    annotations = [
        _threshold_label(green_min, f"green ≥ {green_min}"),
        _threshold_label(yellow_min, f"yellow ≥ {yellow_min}"),
    ]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Health score",
                "x": days,
                "y": [s for _, s, _ in history],
                "line": {"color": "#1b2330", "width": 2},
                "marker": {"size": 5, "color": [BAND_COLORS[b] for _, _, b in history]},
            }
        ],
        "layout": _layout(
            "Health score, last 90 days",
            "Score (0-100)",
            shapes=shapes,
            annotations=annotations,
            yaxis={"title": {"text": "Score (0-100)"}, "range": [0, 100], "gridcolor": "#eef0f4"},
            xaxis={"title": {"text": "Date"}, "type": "date", "range": [start, until.isoformat()]},
        ),
    }


def _windows(until: date) -> list[dict]:
    """Shade the two 28-day windows the usage trend compares."""
    last_start = until - timedelta(days=27)
    prev_start = until - timedelta(days=55)
    return [
        _band(
            "#94a3b8",
            0.10,
            x=(prev_start.isoformat(), (last_start - timedelta(days=1)).isoformat()),
        ),
        _band("#3b5bdb", 0.10, x=(last_start.isoformat(), until.isoformat())),
    ]


def _band(color: str, opacity: float, *, x: tuple | None = None, y: tuple | None = None) -> dict:
    """A shaded rectangle behind the traces: from..to in data coordinates on the axes given,
    the whole width or height of the plot on the others."""
    (x0, x1), (y0, y1) = x or (0, 1), y or (0, 1)
    return {
        "type": "rect",
        "xref": "x" if x else "paper",
        "yref": "y" if y else "paper",
        "x0": x0,
        "x1": x1,
        "y0": y0,
        "y1": y1,
        "fillcolor": color,
        "opacity": opacity,
        "line": {"width": 0},
        "layer": "below",
    }


def _threshold_label(y: int, text: str) -> dict:
    return {
        "xref": "paper",
        "x": 1,
        "y": y,
        "text": text,
        "showarrow": False,
        "xanchor": "right",
        "yanchor": "bottom",
        "font": {"size": 10},
    }


def _window_labels(until: date) -> list[dict]:
    return [
        {
            "xref": "x",
            "yref": "paper",
            "x": (until - timedelta(days=41)).isoformat(),
            "y": 1,
            "text": "prior 28 days",
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"size": 10, "color": "#667085"},
        },
        {
            "xref": "x",
            "yref": "paper",
            "x": (until - timedelta(days=13)).isoformat(),
            "y": 1,
            "text": "last 28 days",
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"size": 10, "color": "#3b5bdb"},
        },
    ]


def stacked_usage(series: dict[str, list], *, title: str, y_title: str, until: date) -> dict:
    data = []
    for i, (name, points) in enumerate(series.items()):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "stackgroup": "one",
                "name": name,
                "x": [d.isoformat() for d, _ in points],
                "y": [v for _, v in points],
                "line": {"width": 0.5, "color": PALETTE[i % len(PALETTE)]},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            title,
            y_title,
            shapes=_windows(until),
            annotations=_window_labels(until),
            height=340,
            margin={"l": 56, "r": 16, "t": 40, "b": 90},
        ),
    }


def usage_line(
    points: list[dict], *, title: str, y_title: str, until: date, color: str = "#3b5bdb"
) -> dict:
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": y_title,
                "x": [p["date"].isoformat() for p in points],
                "y": [p["value"] for p in points],
                "line": {"color": color, "width": 2},
            }
        ],
        "layout": _layout(
            title,
            y_title,
            shapes=_windows(until),
            annotations=_window_labels(until),
            showlegend=False,
        ),
    }


def burn_up(b) -> dict:
    days = [d.isoformat() for d, _ in b.consumed]
    last_day, consumed_now = b.consumed[-1] if b.consumed else (b.period_start, 0.0)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Consumed (cumulative)",
                "x": days,
                "y": [v for _, v in b.consumed],
                "line": {"color": "#3b5bdb", "width": 2.5},
                "fill": "tozeroy",
                "fillcolor": "rgba(59,91,219,0.08)",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Pro-rata commit",
                "x": [b.period_start.isoformat(), b.period_end.isoformat()],
                "y": [0, b.commit],
                "line": {"color": "#667085", "dash": "dot"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Projected at current run-rate",
                "x": [last_day.isoformat(), b.period_end.isoformat()],
                "y": [consumed_now, b.projected_end],
                "line": {"color": "#d97706", "dash": "dash"},
            },
        ],
        "layout": _layout(
            "Commit burn-up: consumed vs pro-rata commit",
            "Units",
            margin={"l": 56, "r": 16, "t": 40, "b": 90},
            xaxis={
                "title": {"text": "Date"},
                "type": "date",
                "range": [b.period_start.isoformat(), b.period_end.isoformat()],
            },
        ),
    }
