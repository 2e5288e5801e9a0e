"""The theme page's chart: failed queries over time for a behavioural theme, per account. Built
in Python, shipped as JSON (json_script) and drawn by static/js/charts.js, like health's."""

from __future__ import annotations

from datetime import date

from health.charts import FONT, PALETTE

SHIPPED_COLOR = "#12805c"


def theme_failures(
    *, title: str, series: dict[str, list[tuple[date, int]]], shipped_on: date | None
) -> dict:
    """Stacked daily bars of failed queries per account (the biggest five, then the rest), with
    the ship date marked when the theme shipped."""
    data = [
        {
            "type": "bar",
            "name": name,
            "x": [d.isoformat() for d, _ in points],
            "y": [n for _, n in points],
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": "%{x|%b %d}: %{y} failed<extra>" + name[:40] + "</extra>",
        }
        for i, (name, points) in enumerate(series.items())
    ]
    shapes, annotations = [], []
    if shipped_on is not None:
        x = shipped_on.isoformat()
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": SHIPPED_COLOR, "width": 2, "dash": "dash"},
            }
        )
        annotations.append(
            {
                "x": x,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": "shipped",
                "showarrow": False,
                "xanchor": "left",
                "font": {"color": SHIPPED_COLOR},
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {
                "text": f"{title}: failed queries per day",
                "font": {"size": 14},
                "x": 0,
                "xanchor": "left",
            },
            "font": FONT,
            "barmode": "stack",
            "height": 320,
            "margin": {"l": 56, "r": 16, "t": 40, "b": 70},
            "xaxis": {"title": {"text": "Date"}, "type": "date", "gridcolor": "#eef0f4"},
            "yaxis": {
                "title": {"text": "Failed queries"},
                "gridcolor": "#eef0f4",
                "rangemode": "tozero",
            },
            "legend": {"orientation": "h", "y": -0.3, "yanchor": "top", "x": 0},
            "shapes": shapes,
            "annotations": annotations,
            "plot_bgcolor": "#fff",
            "paper_bgcolor": "#fff",
        },
    }
