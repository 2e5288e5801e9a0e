"""The QBR demo on a live book: the demo CSM's tier-1 account has a held QBR from last quarter
(with its qbr touchpoint) and a prepared one for the last full quarter with its next steps as
tasks; a re-seed changes none of it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qbr.models import QbrStatus
from qbr.rules import last_full_quarter
from tests.conftest import table_rows
from tests.datatrust.conftest import TODAY
from tests.demo.test_datatrust_demo import cheap_seed  # noqa: F401 (a fixture)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_demo_has_a_prepared_and_a_held_qbr(cheap_seed):  # noqa: F811
    from demo.qbr import demo_qbr_account

    out = cheap_seed("--today", TODAY.isoformat())
    assert "qbr " in out
    account = demo_qbr_account()
    assert account.tier == 1
    held, prepared = account.qbrs.order_by("period_start")
    start, end = last_full_quarter(TODAY)
    assert (prepared.period_start, prepared.period_end, prepared.status) == (
        start,
        end,
        QbrStatus.PREPARED,
    )
    assert prepared.snapshot is not None and prepared.held_on is None
    assert prepared.steps.count() == 2
    assert all(step.task_id for step in prepared.steps.all())
    assert held.status == QbrStatus.HELD
    assert held.period_end == start - timedelta(days=1)
    assert held.held_on == start + timedelta(days=14)
    assert held.touchpoint.kind == "qbr" and held.touchpoint.date == held.held_on

    before = table_rows()
    cheap_seed()
    assert table_rows() == before
