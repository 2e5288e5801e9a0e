"""Build qbr/deck/template.pptx, the 16:9 template every QBR deck starts from.

Run once after changing it (`python -m qbr.deck.make_template`) and commit the .pptx: the
deck code uses its "Title Slide" and "Title Only" layouts. python-pptx's own default template
is 4:3; this widens it to 16:9 and stretches the layouts' placeholders to match, then sets the
title style (dark ink, left-aligned section titles) the decks share.
"""

from __future__ import annotations

from pathlib import Path

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "template.pptx"
WIDE = Inches(13.333)
HIGH = Inches(7.5)
INK = RGBColor(0x1F, 0x29, 0x37)


def build(path: Path = TEMPLATE) -> Path:
    prs = Presentation()
    old_w, old_h = prs.slide_width, prs.slide_height
    prs.slide_width, prs.slide_height = WIDE, HIGH
    sx, sy = WIDE / old_w, HIGH / old_h
    holders = [*prs.slide_master.placeholders]
    for layout in prs.slide_layouts:
        holders.extend(layout.placeholders)
    for ph in holders:
        if ph.left is None:
            continue
        ph.left, ph.width = Emu(int(ph.left * sx)), Emu(int(ph.width * sx))
        ph.top, ph.height = Emu(int(ph.top * sy)), Emu(int(ph.height * sy))
    title_only = prs.slide_layouts[5]
    title = title_only.placeholders[0]
    title.left, title.top = Inches(0.6), Inches(0.35)
    title.width, title.height = Inches(12.1), Inches(0.9)
    paragraph = title.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.LEFT
    paragraph.font.size = Pt(32)
    paragraph.font.bold = True
    paragraph.font.color.rgb = INK
    prs.save(path)
    return path


if __name__ == "__main__":
    print(build())
