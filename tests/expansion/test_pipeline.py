"""Moving opportunities: who may, what the pipeline allows, the AE's hand-off alert (once), and
a win checked against the next contract."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cs_portal import clock
from expansion.models import Opportunity, StageChange
from expansion.services import opportunity_move
from playbooks.models import Alert, AlertDelivery
from tests.factories import AccountFactory, ContractFactory, OpportunityFactory, UserFactory


def stage_of(opp) -> str:
    return Opportunity.objects.get(pk=opp.pk).stage


@pytest.mark.parametrize("mover", ["alice", "ava", "maya"])
def test_the_owning_csm_an_ae_and_a_manager_move_it_and_the_move_is_recorded(opp, mover, request):
    user = request.getfixturevalue(mover)
    opportunity_move(opportunity=opp, to_stage="qualified", user=user, note="confirmed on a call")

    assert stage_of(opp) == "qualified"
    change = StageChange.objects.filter(opportunity=opp).order_by("id").last()
    assert (change.from_stage, change.to_stage, change.changed_by, change.note) == (
        "identified",
        "qualified",
        user,
        "confirmed on a call",
    )


@pytest.mark.parametrize("mover", ["bob", "pat"])
def test_another_csm_or_a_product_user_cannot_move_it_and_nothing_is_written(opp, mover, request):
    user = request.getfixturevalue(mover)
    changes = StageChange.objects.count()
    with pytest.raises(PermissionDenied):
        opportunity_move(opportunity=opp, to_stage="qualified", user=user)
    assert stage_of(opp) == "identified"
    assert StageChange.objects.count() == changes


def test_the_pipeline_refuses_moves_it_does_not_allow(opp, alice, ava):
    with pytest.raises(ValidationError, match="cannot move from identified to won"):
        opportunity_move(opportunity=opp, to_stage="won", user=ava, won_arr=Decimal(1))
    opportunity_move(opportunity=opp, to_stage="handed_off", user=alice)
    with pytest.raises(ValidationError, match="how much ARR"):
        opportunity_move(opportunity=opp, to_stage="won", user=ava)
    with pytest.raises(ValidationError, match="reason"):
        opportunity_move(opportunity=opp, to_stage="lost", user=ava)
    opportunity_move(opportunity=opp, to_stage="lost", user=ava, lost_reason="timing")
    with pytest.raises(ValidationError, match="stays closed"):
        opportunity_move(opportunity=opp, to_stage="qualified", user=ava)
    opp.refresh_from_db()
    assert (opp.stage, opp.lost_reason, opp.closed_on) == ("lost", "timing", clock.today())


def test_no_hand_off_without_an_ae(alice):
    account = AccountFactory(csm=alice, ae=None)
    o = OpportunityFactory(account=account)
    with pytest.raises(ValidationError, match="no AE"):
        opportunity_move(opportunity=o, to_stage="handed_off", user=alice)
    assert not Alert.objects.exists()


def test_the_ae_gets_the_hand_off_alert_once(opp, alice, ava, django_capture_on_commit_callbacks):
    opportunity_move(opportunity=opp, to_stage="qualified", user=alice)
    assert not Alert.objects.exists()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        opportunity_move(opportunity=opp, to_stage="handed_off", user=alice)
        opportunity_move(opportunity=opp, to_stage="qualified", user=alice)  # back, and again
        opportunity_move(opportunity=opp, to_stage="handed_off", user=alice)
    assert len(callbacks) == 1  # one delivery queued

    [alert] = Alert.objects.all()
    assert (alert.kind, alert.owner, alert.account_id) == ("expansion_handoff", ava, opp.account_id)
    assert alert.title == "Acme Analytics: seats handed to you"
    assert alert.detail.startswith("Alice Archer handed off a seats opportunity worth $20,000")
    assert opp.thesis in alert.detail
    assert alert.data["opportunity"] == opp.pk
    # delivered like any alert: the inbox at once, the AE's digest pending
    channels = dict(AlertDelivery.objects.filter(alert=alert).values_list("channel", "status"))
    assert channels["inbox"] == "sent" and channels["email"] == "pending"


def test_the_hand_off_shows_in_the_aes_inbox(opp, alice, ava_client):
    opportunity_move(opportunity=opp, to_stage="handed_off", user=alice)
    page = ava_client.get("/inbox/").content.decode()
    assert "Acme Analytics: seats handed to you" in page


def test_a_won_opportunity_is_checked_against_the_next_contract(opp, alice, ava, maya_client):
    opportunity_move(opportunity=opp, to_stage="handed_off", user=alice)
    opportunity_move(opportunity=opp, to_stage="won", user=ava, won_arr=Decimal("40000"))
    page = maya_client.get("/accounts/acme/expansion/").content.decode()
    assert "$40,000 won." in page and "No contract since the win yet" in page

    current = opp.account.contracts.get()
    ContractFactory(
        account=opp.account,
        start=current.end + timedelta(days=1),
        end=current.end + timedelta(days=365),
        arr=Decimal("145000"),
        plan="developer",
    )
    page = maya_client.get("/accounts/acme/expansion/").content.decode()
    assert "ARR $100,000 → $145,000 (+$45,000, $40,000 won)" in page

    opp.refresh_from_db()
    opp.won_arr = Decimal("60000")
    opp.save()
    page = maya_client.get("/accounts/acme/expansion/").content.decode()
    assert "adds $45,000 of the $60,000 won" in page


def test_an_ae_of_another_team_is_still_an_ae(opp, alice):
    other_ae = UserFactory(role="ae")
    opportunity_move(opportunity=opp, to_stage="qualified", user=other_ae)
    assert stage_of(opp) == "qualified"
