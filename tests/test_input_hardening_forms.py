"""Every field of every posted form refuses a NUL byte and an oversized value with a message,
writing nothing. The fields are read from the forms themselves, so a new one is covered."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client

from accounts.forms import TierForm, TouchpointForm
from health.forms import DraftModelForm
from health.services import health_model_current
from playbooks.plays.forms import PlaybookForm, PlayStartForm
from playbooks.success.forms import MilestoneCompleteForm, SuccessPlanForm
from playbooks.tiering.forms import TierDecisionForm
from qbr.forms import SectionForm
from tests.factories.playbooks import MilestoneFactory, PlaybookFactory, TierSuggestionFactory
from tests.factories.qbr import QbrFactory

OVERSIZED = "x" * 20_000  # longer than any text field takes (a 20 MB note was once stored)
BAD_VALUES = {"nul": "a\x00b", "oversized": OVERSIZED}


def _counts() -> dict[str, int]:
    return {
        m._meta.label: m.objects.count()
        for label in ("accounts", "health", "playbooks", "datatrust")
        for m in apps.get_app_config(label).get_models()
    }


# (name, the form as its view builds it, the URL it is posted to, a valid payload)
def _targets(acme) -> list[tuple[str, object, str, dict]]:
    playbook = PlaybookFactory(key="rescue", name="Rescue")
    milestone = MilestoneFactory(account=acme)
    suggestion = TierSuggestionFactory(account=acme)
    base = f"/accounts/{acme.external_id}"
    qbr = QbrFactory(account=acme)
    return [
        (
            "touchpoint",
            TouchpointForm({}, account=acme),
            f"{base}/touchpoints",
            {"kind": "call", "date": "2026-01-05", "note": "fine"},
        ),
        ("tier", TierForm({}), f"{base}/tier", {"tier": "1", "reason": "grew"}),
        ("success_plan", SuccessPlanForm({}), f"{base}/success/plan", {"outcomes": "faster"}),
        (
            "milestone",
            MilestoneCompleteForm({}),
            f"{base}/success/milestones/{milestone.pk}/complete",
            {"evidence": "done"},
        ),
        ("play_start", PlayStartForm({}), f"{base}/plays/start", {"playbook": playbook.key}),
        (
            "health_model",
            DraftModelForm({}, current=health_model_current()),
            "/health/model/",
            {"note": "draft"},
        ),
        ("playbook", PlaybookForm({}), "/playbooks/new/", {"key": "new-one", "name": "New"}),
        (
            "tier_decision",
            TierDecisionForm({}),
            f"/tiers/suggestions/{suggestion.pk}/approve",
            {"note": "ok"},
        ),
        (
            "qbr_section",
            SectionForm({}),
            f"/qbrs/{qbr.pk}/section",
            {"key": "usage", "action": "sentence", "sentence": "fine"},
        ),
    ]


FORM_NAMES = [
    "touchpoint",
    "tier",
    "success_plan",
    "milestone",
    "play_start",
    "health_model",
    "playbook",
    "tier_decision",
    "qbr_section",
]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("bad", list(BAD_VALUES))
@pytest.mark.parametrize("form_name", FORM_NAMES)
def test_every_form_field_refuses_nul_and_oversized_values(acme, maya, form_name, bad, htmx):
    client = Client()
    client.force_login(maya)
    targets = {name: rest for name, *rest in _targets(acme)}
    assert sorted(targets) == sorted(FORM_NAMES)
    form, url, valid = targets[form_name]
    headers = {"HX-Request": "true"} if htmx else {}
    for field in form.fields:
        before = _counts()
        response = client.post(url, {**valid, field: BAD_VALUES[bad]}, headers=headers)
        if form_name == "tier_decision" and not htmx:
            # The tier queue answers a plain POST with a redirect and the problem as a flash.
            assert response.status_code == 302, field
            response = client.get(response["Location"])
        else:
            assert 400 <= response.status_code < 500, (field, response.status_code)
        page = response.content.decode()
        expected = "contains a NUL character (0x00)" if bad == "nul" else "characters (it has 20,"
        assert expected in page, (field, page[:300])
        assert _counts() == before, field


# (the filter form, the page whose query string it reads)
def _filter_targets(acme, maya) -> list[tuple[object, str]]:
    from accounts.forms import BookFilterForm
    from datatrust.forms import IncidentFilterForm
    from health.forms import BacktestForm, HealthTabForm
    from playbooks.inbox.forms import InboxFilterForm
    from playbooks.nudges.forms import NudgesFilterForm
    from playbooks.plays.forms import WorkOwnerForm
    from playbooks.tiering.forms import TierQueueFilterForm
    from qbr.forms import DueForm

    return [
        (BookFilterForm({}, user=maya), "/book/"),
        (IncidentFilterForm({}), "/incidents/"),
        (HealthTabForm({}), f"/accounts/{acme.external_id}/health/"),
        (BacktestForm({}), "/health/model/backtest/"),
        (InboxFilterForm({}, user=maya), "/inbox/"),
        (NudgesFilterForm({}), "/nudges/"),
        (WorkOwnerForm({}, user=maya), "/work/"),
        (TierQueueFilterForm({}), "/tiers/queue/"),
        (DueForm({}), "/qbrs/due/"),
    ]


@pytest.mark.parametrize("bad", list(BAD_VALUES))
def test_every_filter_field_refuses_nul_and_oversized_values(acme, maya, bad):
    client = Client()
    client.force_login(maya)
    missed = []
    for form, url in _filter_targets(acme, maya):
        for field in form.fields:
            response = client.get(url, {field: BAD_VALUES[bad]})
            page = response.content.decode()
            expected = "NUL character (0x00)" if bad == "nul" else "characters (it has 20,"
            if response.status_code >= 500 or expected not in page:
                missed.append((url, field, response.status_code))
    assert missed == []
