"""The voice-of-the-customer demo on a live book: behavioural Solana and TON themes across
several accounts, typed feedback, a declined theme with its reason, and a shipped theme whose
outcome report shows some accounts unblocked and others not; a re-seed changes none of it."""

from __future__ import annotations

import pytest

from tests.conftest import table_rows
from tests.datatrust.conftest import TODAY
from tests.demo.test_datatrust_demo import cheap_seed  # noqa: F401 (a fixture)
from voc.models import FeedbackItem, Theme
from voc.selectors import outcome_report


@pytest.mark.slow
@pytest.mark.django_db
def test_the_demo_has_behavioural_typed_shipped_and_declined_themes(cheap_seed):  # noqa: F811
    out = cheap_seed("--today", TODAY.isoformat())
    assert "voc" in out

    for chain in ("solana", "ton"):
        theme = Theme.objects.get(grouping=f"coverage_gap|{chain}|")
        behavioural = theme.items.filter(source="behavioral")
        assert behavioural.values("account").distinct().count() >= 2, chain
        assert theme.items.exclude(source="behavioral").exists(), chain  # typed asks join it
    assert set(FeedbackItem.objects.values_list("source", flat=True)) >= {
        "behavioral",
        "qbr",
        "ticket",
        "slack",
    }

    declined = Theme.objects.get(status="declined")
    assert declined.declined_reason.startswith("Retired in 2024")

    shipped = Theme.objects.get(status="shipped")
    verdicts = {r.verdict for r in outcome_report(shipped).rows}
    assert "unblocked" in verdicts and verdicts - {"unblocked"}
    assert shipped.tells.count() == shipped.items.values("account").distinct().count()

    before = table_rows()
    cheap_seed()
    assert table_rows() == before
