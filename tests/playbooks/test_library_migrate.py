"""The default playbooks exist right after `migrate` on any install (a post_migrate handler),
and a later migrate brings back a missing default without touching an edited one."""

from __future__ import annotations

from django.core.management import call_command

from playbooks.models import Playbook, PlaybookStep
from playbooks.plays.library import DEFAULT_PLAYBOOKS


def test_the_default_playbooks_exist_after_migrate(db):
    # The test database was built by `migrate`: nobody loaded the library by hand.
    assert sorted(Playbook.objects.values_list("key", flat=True)) == sorted(
        p["key"] for p in DEFAULT_PLAYBOOKS
    )
    sharp = Playbook.objects.get(key="sharp-drop")
    assert (sharp.name, sharp.trigger, sharp.tiers, sharp.active) == (
        "Sharp drop: find out why within 48 hours",
        "override:sharp_drop",
        [1, 2],
        True,
    )
    assert PlaybookStep.objects.filter(playbook=sharp).count() == 4


def test_migrate_again_restores_a_missing_default_and_keeps_edits(db):
    Playbook.objects.filter(key="commit-upsize").delete()
    Playbook.objects.filter(key="sharp-drop").update(name="Sharp drop (our way)", active=False)
    PlaybookStep.objects.filter(playbook__key="sharp-drop", order__gt=1).delete()

    call_command("migrate", verbosity=0)

    assert Playbook.objects.count() == len(DEFAULT_PLAYBOOKS)
    assert Playbook.objects.get(key="commit-upsize").steps.count() > 0
    sharp = Playbook.objects.get(key="sharp-drop")
    assert (sharp.name, sharp.active, sharp.steps.count()) == ("Sharp drop (our way)", False, 1)
