"""The snapshot stays as saved when the data changes; held QBRs log one touchpoint; the next
steps become tasks once, revised on a re-save."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import TouchpointKind
from cs_portal import clock
from health.models import UsageFact
from playbooks.models import SuccessPlan, Task
from qbr import services
from qbr.models import QbrStatus
from qbr.selectors import qbr_sections
from tests.qbr.conftest import daily

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(acme_book, alice, quarter):
    return services.qbr_prepare(account=acme_book, by=alice, start=quarter.start, end=quarter.end)


def _numbers(sections: list[dict]) -> list:
    return [(s["key"], s["facts"], s["table"], s["charts"], s["sentence"]) for s in sections]


def test_the_snapshot_does_not_change_when_the_data_does(draft, alice, acme_book, quarter):
    services.qbr_section_edit(qbr=draft, by=alice, key="usage", sentence="Our own words.")
    saved = services.qbr_save(qbr=draft, by=alice)
    assert saved.status == QbrStatus.PREPARED
    before = _numbers(qbr_sections(saved))
    usage = next(s for s in saved.snapshot["sections"] if s["key"] == "usage")
    assert usage["sentence"] == "Our own words."

    # More usage in the quarter, a bigger ROI baseline: the live draft would change...
    UsageFact.objects.bulk_create(
        daily(acme_book, quarter.start, quarter.end, 50, product="developer", chain="solana")
    )
    SuccessPlan.objects.filter(account=acme_book).update(ftes_saved=Decimal("9.0"))
    live = services.qbr_prepare(account=acme_book, by=alice, start=quarter.start, end=quarter.end)
    assert live.pk != saved.pk
    assert _numbers(qbr_sections(live)) != before
    # ...the saved QBR does not.
    saved.refresh_from_db()
    assert _numbers(qbr_sections(saved)) == before
    # Saving it again freezes nothing new.
    services.qbr_save(qbr=saved, by=alice)
    saved.refresh_from_db()
    assert _numbers(qbr_sections(saved)) == before


def test_edits_after_saving_change_words_and_layout_not_numbers(draft, alice):
    saved = services.qbr_save(qbr=draft, by=alice)
    frozen = [s["facts"] for s in saved.snapshot["sections"]]
    services.qbr_section_edit(qbr=saved, by=alice, key="roadmap", move=-1)
    services.qbr_section_edit(qbr=saved, by=alice, key="untapped", visible=False)
    services.qbr_section_edit(qbr=saved, by=alice, key="outcomes", sentence="Shorter.")
    saved.refresh_from_db()
    keys = [s["key"] for s in saved.snapshot["sections"]]
    assert keys == ["health", "outcomes", "usage", "untapped", "roadmap", "commit", "next_steps"]
    by_key = {s["key"]: s for s in saved.snapshot["sections"]}
    assert by_key["untapped"]["visible"] is False
    assert by_key["outcomes"]["sentence"] == "Shorter."
    assert sorted(map(str, frozen)) == sorted(str(s["facts"]) for s in saved.snapshot["sections"])


def test_preparing_the_same_period_twice_reuses_the_draft(draft, alice, acme_book, quarter):
    again = services.qbr_prepare(account=acme_book, by=alice, start=quarter.start, end=quarter.end)
    assert again.pk == draft.pk


def test_marking_held_saves_and_logs_one_qbr_touchpoint(draft, alice, acme_book):
    on = clock.today() - timedelta(days=1)
    held = services.qbr_mark_held(qbr=draft, by=alice, on=on)
    assert held.status == QbrStatus.HELD
    assert held.snapshot is not None
    touches = list(acme_book.touchpoints.filter(kind=TouchpointKind.QBR))
    assert len(touches) == 1
    assert touches[0].date == on
    assert touches[0].logged_by == alice
    assert touches[0].note.startswith("QBR Q")
    assert held.touchpoint == touches[0]
    services.qbr_mark_held(qbr=held, by=alice, on=on)
    assert acme_book.touchpoints.filter(kind=TouchpointKind.QBR).count() == 1


def test_next_steps_create_one_task_each_and_a_resave_revises_them(draft, alice, bob, acme_book):
    due = clock.today() + timedelta(days=14)
    rows = [
        services.StepInput(text="Two-week Solana eval", due=due, customer_owner="Their data lead"),
        services.StepInput(text="Size the next commit", due=due, owner=alice),
    ]
    steps = services.qbr_steps_save(qbr=draft, by=alice, steps=rows)
    tasks = Task.objects.filter(account=acme_book).order_by("id")
    assert [t.title for t in tasks] == [
        "QBR next step: Two-week Solana eval",
        "QBR next step: Size the next commit",
    ]
    assert [t.owner for t in tasks] == [alice, alice]  # the customer's step: the CSM follows up
    assert "Owner at the customer: Their data lead." in tasks[0].detail

    later = due + timedelta(days=7)
    again = [
        services.StepInput(
            text="Two-week Solana eval",
            due=later,
            customer_owner="Their data lead",
            step_id=steps[0].pk,
        ),
        services.StepInput(text="Size the next commit", due=due, owner=alice, step_id=steps[1].pk),
    ]
    services.qbr_steps_save(qbr=draft, by=alice, steps=again)
    services.qbr_steps_save(qbr=draft, by=alice, steps=again)
    tasks = Task.objects.filter(account=acme_book).order_by("id")
    assert tasks.count() == 2
    assert tasks[0].due == later
    with pytest.raises(PermissionDenied):
        services.qbr_steps_save(qbr=draft, by=bob, steps=again)
    assert Task.objects.filter(account=acme_book).count() == 2

    # A step taken off the plan takes its open task out of the owner's work; a done one stays.
    Task.objects.filter(pk=tasks[1].pk).update(status="done")
    services.qbr_steps_save(qbr=draft, by=alice, steps=[])
    assert dict(Task.objects.filter(account=acme_book).values_list("title", "status")) == {
        "QBR next step: Two-week Solana eval": "cancelled",
        "QBR next step: Size the next commit": "done",
    }


def test_only_the_accounts_csm_or_a_manager_prepares(acme_book, bob, maya, pat, quarter):
    for outsider in (bob, pat):
        with pytest.raises(PermissionDenied):
            services.qbr_prepare(
                account=acme_book, by=outsider, start=quarter.start, end=quarter.end
            )
    qbr = services.qbr_prepare(account=acme_book, by=maya, start=quarter.start, end=quarter.end)
    assert qbr.created_by == maya


def test_a_draft_held_on_an_earlier_day_lists_what_was_asked_by_then(draft, alice, quarter):
    held = services.qbr_mark_held(qbr=draft, by=alice, on=quarter.start + timedelta(days=2))
    roadmap = next(s for s in held.snapshot["sections"] if s["key"] == "roadmap")
    # Polygon lending was asked on S + 3, after the meeting: not on its roadmap.
    assert [row[1] for row in roadmap["table"]["rows"]] == ["Solana DEX trades"]
    later = services.qbr_prepare(
        account=draft.account, by=alice, start=quarter.start, end=quarter.end
    )
    live = next(s for s in qbr_sections(later) if s["key"] == "roadmap")
    assert sorted(row[1] for row in live["table"]["rows"]) == [
        "Polygon lending",
        "Solana DEX trades",
    ]
