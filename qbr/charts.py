"""A section's chart (the same spec the deck draws natively) as a Plotly figure for the pages:
built in Python, shipped as JSON and drawn by static/js/charts.js, like health's charts."""

from __future__ import annotations

from health.charts import FONT, PALETTE


def figure(spec: dict) -> dict:
    """Lines, columns or horizontal bars over the spec's categories, titled, axes labelled."""
    horizontal = spec["kind"] == "bar"
    data = []
    for i, s in enumerate(spec["series"]):
        colour = PALETTE[i % len(PALETTE)]
        trace = {"name": s["name"], "marker": {"color": colour}}
        if spec["kind"] == "line":
            trace.update(
                type="scatter",
                mode="lines+markers",
                x=spec["categories"],
                y=s["values"],
                line={"color": colour, "width": 2},
            )
        elif horizontal:
            trace.update(type="bar", orientation="h", y=spec["categories"], x=s["values"])
        else:
            trace.update(type="bar", x=spec["categories"], y=s["values"])
        data.append(trace)
    x_title, y_title = spec["x_title"], spec["y_title"]
    if horizontal:
        x_title, y_title = y_title, x_title
    rows = len(spec["categories"])
    layout = {
        "title": {"text": spec["title"], "font": {"size": 14}, "x": 0, "xanchor": "left"},
        "font": FONT,
        "margin": {"l": 200 if horizontal else 64, "r": 16, "t": 40, "b": 56},
        "height": max(300, 28 * rows + 110) if horizontal else 320,
        "xaxis": {
            "title": {"text": x_title},
            "gridcolor": "#eef0f4",
            "automargin": True,
            **({"nticks": 14} if not horizontal and rows > 16 else {}),
        },
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#eef0f4",
            "rangemode": "tozero",
            "automargin": True,
            **({"autorange": "reversed"} if horizontal else {}),
        },
        "showlegend": len(data) > 1 or spec["kind"] == "line",
        "legend": {"orientation": "h", "y": -0.25, "yanchor": "top", "x": 0},
        "plot_bgcolor": "#fff",
        "paper_bgcolor": "#fff",
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout}
