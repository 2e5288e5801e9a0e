"""Pure decisions of QBR prep: the default period, weekly buckets and trends, commit pace, the
drafted sentences, and how the CSM's layout (sentences, hidden sections, order) applies to the
assembled sections. No database here.

A section is a plain dict, so it can be frozen as JSON on the QBR row and rendered the same way
by the page, the printable page and the deck:

    key, title, visible, sentence, default_sentence,
    missing      what data is missing and how to add it ("" when nothing is),
    facts        [{label, value}]  the big numbers,
    table        {columns: [...], rows: [[...]]} or None, and extra_table (a second one),
    charts       [{kind: line|column|bar, title, x_title, y_title, categories, series:
                   [{name, values}]}],
    link         {label, url} or None (e.g. the open commit-upsize opportunity).
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

SECTION_KEYS = ("health", "outcomes", "usage", "untapped", "commit", "roadmap", "next_steps")
TITLES = {
    "health": "Health summary",
    "outcomes": "Outcomes",
    "usage": "Usage as evidence",
    "untapped": "Untapped value",
    "commit": "Commit vs consumption",
    "roadmap": "Roadmap: what you asked for",
    "next_steps": "Next steps",
}
# The score is internal: the health line starts hidden and the CSM may show it.
HIDDEN_BY_DEFAULT = {"health"}
SENTENCE_MAX = 600
# Over this share of the commit by the contract's end (run-rate) is over pace; under the lower
# share is under pace (a joint adoption plan); between is on pace.
OVER_PACE = 1.0
UNDER_PACE = 0.9
MAX_PERIOD_DAYS = 400


def last_full_quarter(today: date) -> tuple[date, date]:
    """The last calendar quarter that has fully ended before `today`."""
    first_month = 3 * ((today.month - 1) // 3) + 1
    this_quarter = date(today.year, first_month, 1)
    end = this_quarter - timedelta(days=1)
    start = date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    return start, end


def period_label(start: date, end: date) -> str:
    """ "Q3 2026" for a calendar quarter, else "Jul 1 – Sep 14, 2026"."""
    q_start, q_end = last_full_quarter(end + timedelta(days=1))
    if (start, end) == (q_start, q_end):
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if start.year == end.year:
        return f"{start:%b} {start.day} – {end:%b} {end.day}, {end.year}"
    return f"{start:%b} {start.day}, {start.year} – {end:%b} {end.day}, {end.year}"


def weekly(points: list[tuple[date, float]], start: date) -> list[tuple[date, float]]:
    """Daily points summed into whole 7-day buckets that end on the last day, keyed by each
    bucket's first day. Days before the first whole bucket (under a week at the period's
    start) are left out, so no bucket looks like a drop only because it is short."""
    if not points:
        return []
    last = max(day for day, _ in points)
    first = max(start, min(day for day, _ in points))
    weeks = ((last - first).days + 1) // 7
    if weeks == 0:
        return [(first, sum(float(v) for _, v in points))]
    origin = last - timedelta(days=7 * weeks - 1)
    buckets = {origin + timedelta(days=7 * i): 0.0 for i in range(weeks)}
    for day, value in points:
        if day >= origin:
            week = origin + timedelta(days=7 * ((day - origin).days // 7))
            buckets[week] += float(value)
    return sorted(buckets.items())


def run_rate_projection(
    cumulative: list[tuple[date, float]], *, as_of: date, end: date, window: int = 28
) -> tuple[float, float]:
    """(daily run-rate, projected total at `end`): the rate over the last `window` days of the
    cumulative series (or all of it when the contract is younger), carried to `end`."""
    if not cumulative:
        return 0.0, 0.0
    by_day = dict(cumulative)
    now = by_day.get(as_of, cumulative[-1][1])
    first_day = cumulative[0][0]
    back = max(first_day, as_of - timedelta(days=window))
    days = max((as_of - back).days, 0)
    base = by_day.get(back, 0.0) if back > first_day else 0.0
    days = days if back > first_day else (as_of - first_day).days + 1
    rate = (now - base) / days if days > 0 else 0.0
    return rate, now + rate * max((end - as_of).days, 0)


def trend_pct(values: list[float]) -> float | None:
    """Change from the first half of the period to the second, in percent (None: no base)."""
    if len(values) < 2:
        return None
    half = len(values) // 2
    first, second = sum(values[:half]), sum(values[len(values) - half :])
    if first <= 0:
        return None
    return round(100 * (second - first) / first, 1)


def trend_words(pct: float | None) -> str:
    if pct is None:
        return "new this period"
    if abs(pct) < 5:
        return "steady"
    return f"{'up' if pct > 0 else 'down'} {abs(pct):.0f}%"


def pace_verdict(*, projected: float, commit: float) -> str:
    """over / on / under: where the run-rate lands against the commit by the contract's end."""
    if commit <= 0:
        return "on"
    share = projected / commit
    if share > OVER_PACE:
        return "over"
    if share < UNDER_PACE:
        return "under"
    return "on"


def number(value: float | Decimal | None) -> str:
    if value is None:
        return "—"
    value = float(value)
    if abs(value) >= 10_000_000:
        return f"{value / 1_000_000:,.1f}M"
    return f"{value:,.0f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def prorated(per_year: Decimal | float, start: date, end: date) -> float:
    """A yearly amount over the days of a period."""
    return float(per_year) * ((end - start).days + 1) / 365


def human_list(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def workflow_for(name: str, outcomes: list[str], *, strict: bool = False) -> str:
    """The success-plan outcome a product or chain powers: the first outcome naming it, else
    (unless `strict`) the plan's first outcome; "" without a success plan."""
    lowered = name.lower()
    for line in outcomes:
        if lowered and lowered in line.lower():
            return line
    return outcomes[0] if outcomes and not strict else ""


def month_words(day: date) -> str:
    return f"{day:%B} {day.year}"


def loop_sentence(asked: list[tuple[str, date, date | None, str]]) -> str:
    """Closing the loop in one sentence: what they asked for and when it shipped, for up to two
    shipped items, else what is in progress. `asked`: (title, asked on, shipped on, status)."""
    shipped = [a for a in asked if a[2] is not None]
    if shipped:
        parts = [
            f"you asked for {title} in {month_words(on)}; shipped in {month_words(ship)}"
            for title, on, ship, _ in shipped[:2]
        ]
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."
    moving = [a for a in asked if a[3] in ("planned", "in_progress")]
    if moving:
        titles = human_list([a[0] for a in moving[:3]])
        return f"On the roadmap for you: {titles}."
    return f"We heard {len(asked)} request{'s' if len(asked) != 1 else ''} from you; " + (
        "product is triaging them."
    )


def section(key: str, **fields) -> dict:
    """A section with every field present (see the module docstring)."""
    out = {
        "key": key,
        "title": TITLES[key],
        "visible": key not in HIDDEN_BY_DEFAULT,
        "sentence": "",
        "default_sentence": "",
        "missing": "",
        "facts": [],
        "table": None,
        "extra_table": None,
        "charts": [],
        "link": None,
    }
    out.update(fields)
    out["default_sentence"] = out["sentence"]
    return out


def layout_clean(layout: dict | None) -> dict:
    """The stored layout with only what it may hold: order (a permutation of the section keys),
    hidden/shown keys, and sentences by key."""
    layout = layout or {}
    order = [k for k in layout.get("order", []) if k in SECTION_KEYS]
    order = list(dict.fromkeys(order)) + [k for k in SECTION_KEYS if k not in order]
    visible = {k: bool(v) for k, v in (layout.get("visible") or {}).items() if k in SECTION_KEYS}
    sentences = {
        k: str(v)[:SENTENCE_MAX]
        for k, v in (layout.get("sentences") or {}).items()
        if k in SECTION_KEYS
    }
    return {"order": order, "visible": visible, "sentences": sentences}


def layout_apply(sections: list[dict], layout: dict | None) -> list[dict]:
    """The sections in the layout's order, with its visibility and sentences applied."""
    layout = layout_clean(layout)
    by_key = {s["key"]: copy.deepcopy(s) for s in sections}
    out = []
    for key in layout["order"]:
        if key not in by_key:
            continue
        s = by_key[key]
        if key in layout["visible"]:
            s["visible"] = layout["visible"][key]
        if key in layout["sentences"]:
            s["sentence"] = layout["sentences"][key]
        out.append(s)
    return out


def layout_move(layout: dict | None, key: str, step: int) -> dict:
    """The layout with `key` moved one place up (step -1) or down (+1)."""
    layout = layout_clean(layout)
    order = layout["order"]
    if key in order:
        i = order.index(key)
        j = min(max(i + step, 0), len(order) - 1)
        order[i], order[j] = order[j], order[i]
    return layout
