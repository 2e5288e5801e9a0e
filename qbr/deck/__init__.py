"""The QBR as a PowerPoint deck (python-pptx), from the template kept beside this module.

Slides: a title slide (the customer's name and ours, the period), one slide per visible section
in the CSM's order (its sentence, its big numbers, its charts as native PowerPoint charts with
their data editable, its table), and the next steps. A section without data says what is missing
and how to add it, so no slide is ever blank. Rendering reads only the QBR's sections (the
snapshot once saved), never live data of its own.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from django.conf import settings
from django.utils.text import slugify
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from qbr.models import Qbr
from qbr.rules import period_label
from qbr.selectors import qbr_sections

TEMPLATE = Path(__file__).resolve().parent / "template.pptx"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
INK = RGBColor(0x1F, 0x29, 0x37)
MUTED = RGBColor(0x4B, 0x55, 0x63)
ACCENT = RGBColor(0x25, 0x63, 0xEB)
TILE = RGBColor(0xEE, 0xF2, 0xFF)
WARN = RGBColor(0xFE, 0xF3, 0xC7)
WARN_EDGE = RGBColor(0xD9, 0x77, 0x06)
SERIES_COLOURS = ("2563EB", "F59E0B", "10B981", "EF4444", "8B5CF6", "6B7280", "0EA5E9")
CHART_TYPES = {
    "line": XL_CHART_TYPE.LINE_MARKERS,
    "column": XL_CHART_TYPE.COLUMN_CLUSTERED,
    "bar": XL_CHART_TYPE.BAR_CLUSTERED,
}
LEFT = Inches(0.6)
WIDTH = Inches(12.13)
TABLE_ROWS = 8
CELL_CHARS = 90


def company_name() -> str:
    return settings.COMPANY_NAME


def deck_filename(qbr: Qbr) -> str:
    return f"qbr-{slugify(qbr.account.name)}-{qbr.period_start:%Y%m%d}-{qbr.period_end:%Y%m%d}.pptx"


def _text(frame, text: str, *, size: int, color=INK, bold=False, align=None) -> None:
    frame.clear()
    frame.word_wrap = True
    lines = text.split("\n")
    for i, line in enumerate(lines):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = p.add_run()
        run.text = line
        run.font.size = Pt(size)
        run.font.bold = bold
        run.font.color.rgb = color
        if align is not None:
            p.alignment = align


def _box(slide, left, top, width, height, text: str, **style):
    box = slide.shapes.add_textbox(left, top, width, height)
    _text(box.text_frame, text, **style)
    return box


def _title(slide, text: str) -> None:
    _text(slide.shapes.title.text_frame, text, size=30, bold=True, align=PP_ALIGN.LEFT)
    band = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, Inches(0.18), Inches(7.5))
    band.fill.solid()
    band.fill.fore_color.rgb = ACCENT
    band.line.fill.background()


def _footer(slide, text: str) -> None:
    _box(slide, LEFT, Inches(7.05), WIDTH, Inches(0.3), text, size=10, color=MUTED)


def _facts(slide, facts: list[dict], top) -> None:
    facts = facts[:5]
    gap = Inches(0.2)
    width = Emu(int((WIDTH - gap * (len(facts) - 1)) / len(facts)))
    for i, fact in enumerate(facts):
        left = LEFT + i * (width + gap)
        tile = slide.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, left, top, width, Inches(0.95))
        tile.fill.solid()
        tile.fill.fore_color.rgb = TILE
        tile.line.fill.background()
        frame = tile.text_frame
        frame.vertical_anchor = MSO_ANCHOR.MIDDLE
        _text(frame, str(fact["value"]), size=20, bold=True, color=ACCENT, align=PP_ALIGN.CENTER)
        p = frame.add_paragraph()
        p.alignment = PP_ALIGN.CENTER
        run = p.add_run()
        run.text = fact["label"]
        run.font.size = Pt(11)
        run.font.color.rgb = MUTED


def nice_step(top: float, ticks: int = 5) -> float:
    """A round gridline step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` lines
    up to `top`: the default crowds a small chart with ten labels."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _chart(slide, spec: dict, left, top, width, height) -> None:
    data = CategoryChartData()
    # Horizontal bars are drawn bottom to top: fed in reverse, the largest reads first (on
    # top) with the values' axis below, where a reader looks for it.
    flip = spec["kind"] == "bar"
    data.categories = spec["categories"][::-1] if flip else spec["categories"]
    for s in spec["series"]:
        data.add_series(s["name"], s["values"][::-1] if flip else s["values"])
    kind = CHART_TYPES[spec["kind"]]
    chart = slide.shapes.add_chart(kind, left, top, width, height, data).chart
    chart.has_title = True
    _text(chart.chart_title.text_frame, spec["title"], size=13, bold=True)
    chart.font.size = Pt(10)
    multi = len(spec["series"]) > 1 or spec["kind"] == "line"
    chart.has_legend = multi
    if multi:
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
    value_axis = chart.value_axis
    value_axis.has_major_gridlines = True
    value_axis.major_gridlines.format.line.color.rgb = RGBColor(0xE5, 0xE7, 0xEB)
    value_axis.minimum_scale = 0  # from zero: a 5 % wobble must not look like a cliff
    values = [v for s in spec["series"] for v in s["values"] if v is not None]
    step = nice_step(max(values, default=0))
    counts = all(float(v).is_integer() for v in values)
    value_axis.major_unit = max(step, 1) if counts else step
    value_axis.tick_labels.number_format = "#,##0"
    value_axis.tick_labels.number_format_is_linked = False
    value_axis.has_title = True
    _text(value_axis.axis_title.text_frame, spec["y_title"], size=10, color=MUTED)
    category_axis = chart.category_axis
    category_axis.has_title = True
    _text(category_axis.axis_title.text_frame, spec["x_title"], size=10, color=MUTED)
    for i, series in enumerate(chart.plots[0].series):
        colour = RGBColor.from_string(SERIES_COLOURS[i % len(SERIES_COLOURS)])
        if spec["kind"] == "line":
            series.format.line.color.rgb = colour
            series.format.line.width = Pt(2.25)
            series.smooth = False
            series.marker.size = 4
            series.marker.format.fill.solid()
            series.marker.format.fill.fore_color.rgb = colour
        else:
            series.format.fill.solid()
            series.format.fill.fore_color.rgb = colour


def _cell(value) -> str:
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _table(slide, spec: dict, left, top, width, height, *, max_rows: int = TABLE_ROWS) -> None:
    rows = spec["rows"][:max_rows]
    more = len(spec["rows"]) - len(rows)
    n_rows = len(rows) + 1
    shape = slide.shapes.add_table(n_rows, len(spec["columns"]), left, top, width, height)
    table = shape.table
    share = {1: 1.0, 2: 0.75, 3: 0.55}.get(len(spec["columns"]), 0.4)
    first = Emu(int(width * share))
    table.columns[0].width = first
    rest = Emu(int((width - first) / max(len(spec["columns"]) - 1, 1)))
    for i in range(1, len(spec["columns"])):
        table.columns[i].width = rest
    for c, name in enumerate(spec["columns"]):
        _text(table.cell(0, c).text_frame, name, size=12, bold=True, color=RGBColor(255, 255, 255))
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            _text(table.cell(r, c).text_frame, _cell(value), size=11)
    for r in range(n_rows):
        table.rows[r].height = Emu(int(height / max(n_rows, 1)))
    if more > 0:
        _box(
            slide,
            left,
            top + height + Inches(0.05),
            width,
            Inches(0.3),
            f"and {more} more (see the printable page)",
            size=10,
            color=MUTED,
        )


def _missing(slide, text: str, top) -> None:
    box = slide.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, LEFT, top, WIDTH, Inches(1.6))
    box.fill.solid()
    box.fill.fore_color.rgb = WARN
    box.line.color.rgb = WARN_EDGE
    frame = box.text_frame
    frame.margin_left = frame.margin_right = Inches(0.3)
    frame.vertical_anchor = MSO_ANCHOR.MIDDLE
    _text(frame, "What is missing", size=16, bold=True, align=PP_ALIGN.LEFT)
    p = frame.add_paragraph()
    p.alignment = PP_ALIGN.LEFT
    run = p.add_run()
    run.text = text
    run.font.size = Pt(14)
    run.font.color.rgb = INK


def _section_slide(prs, section: dict, footer: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    _title(slide, section["title"])
    top = Inches(1.3)
    if section["sentence"]:
        long = len(section["sentence"]) > 170
        _box(slide, LEFT, top, WIDTH, Inches(1.0), section["sentence"], size=15 if long else 17)
        top += Inches(1.15 if long else 1.0)
    if section["facts"]:
        _facts(slide, section["facts"], top)
        top += Inches(1.15)
    if section["missing"]:
        _missing(slide, section["missing"], top)
        top += Inches(1.8)
    bottom = Inches(6.95)
    charts = section["charts"]
    # A section may name what its slide shows of its table ("deck_table"; None: the chart says
    # it all), so the slide does not repeat its chart as a list.
    table = section.get("deck_table", section["table"] or section.get("extra_table"))
    height = bottom - top
    if height < Inches(1.2):
        _footer(slide, footer)
        return
    if len(charts) >= 2:
        half = Emu(int((WIDTH - Inches(0.3)) / 2))
        _chart(slide, charts[0], LEFT, top, half, height)
        _chart(slide, charts[1], LEFT + half + Inches(0.3), top, half, height)
    elif charts and table:
        chart_w = Emu(int(WIDTH * 0.52))
        _chart(slide, charts[0], LEFT, top, chart_w, height)
        keep = section.get("deck_columns") or [0, 1]
        narrow = {
            "columns": [table["columns"][i] for i in keep],
            "rows": [[row[i] for i in keep] for row in table["rows"]],
        }
        _table(
            slide,
            narrow,
            LEFT + chart_w + Inches(0.3),
            top,
            WIDTH - chart_w - Inches(0.3),
            min(height - Inches(0.4), Inches(0.42) * 7),
            max_rows=6,
        )
    elif charts:
        _chart(slide, charts[0], LEFT, top, WIDTH, height)
    elif table:
        rows = min(len(table["rows"]), TABLE_ROWS) + 1
        _table(slide, table, LEFT, top, WIDTH, min(height - Inches(0.4), Inches(0.42) * rows))
    if section.get("link"):
        _box(
            slide,
            LEFT,
            Inches(6.7),
            WIDTH,
            Inches(0.3),
            section["link"]["label"],
            size=11,
            color=ACCENT,
        )
    _footer(slide, footer)


def deck_bytes(qbr: Qbr, sections: list[dict] | None = None) -> bytes:
    """The QBR's deck as .pptx bytes (from `sections` when the caller already has them)."""
    prs = Presentation(str(TEMPLATE))
    account, ours = qbr.account.name, company_name()
    period = period_label(qbr.period_start, qbr.period_end)
    title = prs.slides.add_slide(prs.slide_layouts[0])
    _text(title.shapes.title.text_frame, f"{account} × {ours}", size=40, bold=True)
    who = qbr.account.csm.display_name if qbr.account.csm else ours
    _text(
        title.placeholders[1].text_frame,
        f"Quarterly business review · {period}\n"
        f"{qbr.period_start:%b} {qbr.period_start.day}, {qbr.period_start.year} – "
        f"{qbr.period_end:%b} {qbr.period_end.day}, {qbr.period_end.year} · prepared by {who}",
        size=20,
        color=MUTED,
    )
    footer = f"{account} · {ours} · QBR {period}"
    for section in qbr_sections(qbr) if sections is None else sections:
        if section["visible"]:
            _section_slide(prs, section, footer)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
