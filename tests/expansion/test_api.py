"""GET /api/v1/opportunities and PATCH /api/v1/opportunities/{id}: the fields, the filters,
the role rules."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from expansion.models import Opportunity, StageChange
from playbooks.models import Alert
from tests.factories import AccountFactory, ApiTokenFactory, OpportunityFactory


def get(path: str, token: str):
    return Client().get(path, headers={"Authorization": f"Bearer {token}"})


def patch(opp_id: int, body: dict, token: str):
    return Client().patch(
        f"/api/v1/opportunities/{opp_id}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def ava_token(ava) -> str:
    ApiTokenFactory(user=ava, raw="csp_ava_ae_token")
    return "csp_ava_ae_token"


@pytest.fixture
def bob_token(bob) -> str:
    ApiTokenFactory(user=bob, raw="csp_bob_csm_token")
    return "csp_bob_csm_token"


def test_the_list_has_the_contract_fields(opp, maya_token, alice, ava):
    [item] = get("/api/v1/opportunities", maya_token).json()
    assert item["id"] == opp.pk and item["account"] == "acme"
    assert (item["kind"], item["target"], item["stage"]) == ("seats", "seats", "identified")
    assert item["thesis"] == opp.thesis and item["evidence"]["peak_users_28"] == 12
    assert item["arr_potential"] == 20_000.0
    assert (item["owner"], item["ae"]) == (alice.email, ava.email)
    assert item["created_at"] and item["updated_at"]


def test_the_list_filters(opp, maya_token):
    other = OpportunityFactory(
        account=AccountFactory(external_id="globex"), kind="upgrade", target="developer"
    )
    ids = lambda q: [i["id"] for i in get(f"/api/v1/opportunities?{q}", maya_token).json()]  # noqa: E731
    assert ids("account=globex") == [other.pk]
    assert ids("kind=seats") == [opp.pk]
    assert ids("stage=won") == []
    for bad in ("account=nobody", "kind=upsell", "stage=open"):
        response = get(f"/api/v1/opportunities?{bad}", maya_token)
        assert response.status_code == 400 and "detail" in response.json()


def test_an_ae_moves_it_and_hands_it_off(opp, ava_token, ava):
    response = patch(opp.pk, {"stage": "handed_off", "note": "pricing call booked"}, ava_token)
    assert response.status_code == 200 and response.json()["stage"] == "handed_off"
    assert StageChange.objects.filter(opportunity=opp, changed_by=ava).count() == 1
    assert Alert.objects.get(kind="expansion_handoff").owner == ava

    response = patch(opp.pk, {"stage": "won", "won_arr": 18000}, ava_token)
    assert response.json()["stage"] == "won" and response.json()["won_arr"] == 18000.0


def test_the_owning_csm_moves_it_another_csm_may_not(opp, alice_token, bob_token):
    refused = patch(opp.pk, {"stage": "qualified"}, bob_token)
    assert refused.status_code == 403
    assert Opportunity.objects.get(pk=opp.pk).stage == "identified"
    assert StageChange.objects.filter(opportunity=opp).count() == 1

    assert patch(opp.pk, {"stage": "qualified"}, alice_token).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"stage": "won", "won_arr": 10}, "cannot move from identified to won"),
        ({"stage": "nowhere"}, "stage must be one of"),
        ({"stage": "lost", "lost_reason": "moon"}, "lost_reason must be one of"),
        ({"stage": "lost"}, "Pick the reason"),
        ({"stage": "qualified", "won_arr": -5}, "won_arr must be more than 0"),
    ],
)
def test_a_refused_move_says_why_and_writes_nothing(opp, maya_token, body, message):
    response = patch(opp.pk, body, maya_token)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert Opportunity.objects.get(pk=opp.pk).stage == "identified"


def test_an_unknown_opportunity_is_404(db, maya_token):
    assert patch(999999, {"stage": "qualified"}, maya_token).status_code == 404
