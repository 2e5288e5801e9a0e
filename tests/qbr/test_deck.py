"""The deck opened with python-pptx: 16:9, a title slide with both names and the period, one
slide per visible section in order, native charts whose series hold the section's numbers,
next steps, and a 'what is missing' box instead of a blank slide."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pptx import Presentation
from pptx.util import Inches

from cs_portal import clock
from qbr import services
from qbr.deck import deck_bytes, deck_filename
from tests.factories import NextStepFactory, QbrFactory
from tests.qbr.conftest import TITLES

pytestmark = pytest.mark.django_db


def _open(qbr) -> Presentation:
    return Presentation(io.BytesIO(deck_bytes(qbr)))


def _text(slide) -> str:
    return "\n".join(
        shape.text_frame.text
        for shape in slide.shapes
        if shape.has_text_frame and shape.text_frame.text
    )


def _charts(slide) -> list:
    return [shape.chart for shape in slide.shapes if shape.has_chart]


def _table_cells(slide) -> list[list[str]]:
    for shape in slide.shapes:
        if shape.has_table:
            return [[c.text for c in row.cells] for row in shape.table.rows]
    return []


@pytest.fixture
def qbr(acme_book, quarter):
    return QbrFactory(account=acme_book, period_start=quarter.start, period_end=quarter.end)


def test_a_16_by_9_deck_with_one_slide_per_visible_section(qbr, quarter):
    NextStepFactory(qbr=qbr, text="Two-week Solana eval", due=quarter.end + timedelta(days=80))
    deck = _open(qbr)
    assert (deck.slide_width, deck.slide_height) == (Inches(13.333), Inches(7.5))
    titles = [s.shapes.title.text_frame.text for s in deck.slides]
    assert titles == ["Acme Analytics × Allium", *TITLES[1:]]
    cover = _text(deck.slides[0])
    assert f"Quarterly business review · Q{(quarter.start.month - 1) // 3 + 1} " in cover
    assert f"{quarter.start:%b} 1, {quarter.start.year}" in cover
    assert "prepared by Alice Archer" in cover
    steps = _table_cells(deck.slides[-1])
    assert steps[0] == ["Next step", "Owner", "By"]
    assert steps[1][:2] == ["Two-week Solana eval", "Their data lead"]


def test_charts_are_native_with_the_sections_numbers(qbr, quarter):
    deck = _open(qbr)
    usage = deck.slides[2]
    weekly, by_chain = _charts(usage)
    assert weekly.chart_title.text_frame.text == "Units consumed per week, by product"
    series = weekly.plots[0].series
    assert [s.name for s in series] == ["Developer API"]
    assert list(series[0].values) == [700.0] * (quarter.days // 7)
    assert list(by_chain.plots[0].categories) == ["Ethereum"]
    assert list(by_chain.plots[0].series[0].values) == [100.0 * quarter.days]
    assert by_chain.value_axis.axis_title.text_frame.text == "Units"
    text = _text(usage)
    assert f"{100 * quarter.days:,} units consumed this period across 1 chain" in text

    commit = deck.slides[4]
    (burn,) = _charts(commit)
    names = [s.name for s in burn.plots[0].series]
    assert names == ["Consumed", "Commit, pro rata", "Run-rate projection"]
    projection = list(burn.plots[0].series[2].values)
    assert projection[-1] == 36_500.0
    assert "Under pace" in _text(commit)
    assert "100,000 units" in _text(commit)

    untapped = deck.slides[3]
    (peers,) = _charts(untapped)
    # bars are stored bottom to top: the largest is drawn on top
    assert list(peers.plots[0].categories) == ["Polygon", "solana.dex.trades", "Solana"]
    assert list(peers.plots[0].series[0].values) == [1.0, 2.0, 2.0]
    assert _table_cells(untapped) == [  # the chart lists the peers; the table what lapsed
        ["No longer used", "Kind"],
        ["base.raw.transactions", "Dataset"],
        ["Base", "Chain"],
    ]

    roadmap = deck.slides[5]
    asked = quarter.start - timedelta(days=60)
    assert f"You asked for Solana DEX trades in {asked:%B %Y}" in _text(roadmap)
    cells = _table_cells(roadmap)
    assert cells[0] == ["Asked", "Request", "Status", "Shipped"]
    assert [row[1] for row in cells[1:]] == ["Polygon lending", "Solana DEX trades"]


def test_edits_show_in_the_deck_and_hidden_sections_leave_it(qbr, alice):
    services.qbr_section_edit(qbr=qbr, by=alice, key="usage", sentence="Usage, in our words.")
    services.qbr_section_edit(qbr=qbr, by=alice, key="untapped", visible=False)
    services.qbr_section_edit(qbr=qbr, by=alice, key="health", visible=True)
    services.qbr_section_edit(qbr=qbr, by=alice, key="roadmap", move=-1)
    qbr.refresh_from_db()
    deck = _open(qbr)
    titles = [s.shapes.title.text_frame.text for s in deck.slides][1:]
    assert titles == [
        "Health summary",
        "Outcomes",
        "Usage as evidence",
        "Roadmap: what you asked for",
        "Commit vs consumption",
        "Next steps",
    ]
    assert "Usage, in our words." in _text(deck.slides[3])


def test_missing_data_fills_the_slide_with_what_to_add(bare, quarter):
    qbr = QbrFactory(account=bare, period_start=quarter.start, period_end=quarter.end)
    deck = _open(qbr)
    for slide in list(deck.slides)[1:]:
        text = _text(slide)
        title = slide.shapes.title.text_frame.text
        assert len(text) > len(title) + 40, title  # never a blank slide
    by_title = {s.shapes.title.text_frame.text: _text(s) for s in deck.slides}
    assert "No success plan yet" in by_title["Outcomes"]
    assert "No commit on the contract" in by_title["Commit vs consumption"]
    assert "No feedback logged for this account yet" in by_title["Roadmap: what you asked for"]
    assert "No next steps yet" in by_title["Next steps"]
    assert "What is missing" in by_title["Usage as evidence"]


def test_a_saved_deck_keeps_its_numbers(qbr, alice, acme_book, quarter):
    from health.models import UsageFact
    from tests.qbr.conftest import daily

    saved = services.qbr_save(qbr=qbr, by=alice)
    UsageFact.objects.bulk_create(
        daily(acme_book, quarter.start, quarter.end, 1, product="datastreams", chain="base")
    )
    deck = _open(saved)
    weekly = _charts(deck.slides[2])[0]
    assert [s.name for s in weekly.plots[0].series] == ["Developer API"]


def test_filename_names_the_account_and_period(qbr, quarter):
    assert deck_filename(qbr) == (
        f"qbr-acme-analytics-{quarter.start:%Y%m%d}-{quarter.end:%Y%m%d}.pptx"
    )


def test_held_today_qbr_downloads_from_the_page(alice_client, qbr):
    services.qbr_mark_held(qbr=qbr, by=qbr.account.csm, on=clock.today())
    response = alice_client.get(f"/qbrs/{qbr.pk}/deck.pptx")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
    assert f'filename="{deck_filename(qbr)}"' in response["Content-Disposition"]
    assert len(Presentation(io.BytesIO(response.content)).slides) == 7
