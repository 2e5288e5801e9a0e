"""One inbox entry per story: its header acknowledges every open part at once."""

from __future__ import annotations

import pytest

from playbooks.models import Alert, AlertKind, AlertStatus
from tests.factories import AccountFactory, AlertFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def story(alice):
    account = AccountFactory(csm=alice, name="Storyline Labs")
    band = AlertFactory(account=account, story="recompute-1:acct")
    override = AlertFactory(
        account=account, kind=AlertKind.OVERRIDE, key="override:x", story="recompute-1:acct"
    )
    return band, override


def test_the_story_header_acknowledges_every_part(alice_client, story):
    page = alice_client.get("/inbox/").text
    assert 'data-testid="story-acknowledge">Acknowledge all 2<' in page
    response = alice_client.post(
        "/inbox/story/acknowledge", {"story": "recompute-1:acct", "owner": "me"}, **HX
    )
    assert response.status_code == 200
    assert "Acknowledged 2 alerts." in response.text
    assert set(Alert.objects.values_list("status", flat=True)) == {AlertStatus.ACKNOWLEDGED}
    assert "story-acknowledge" not in alice_client.get("/inbox/").text


def test_another_csm_cannot_acknowledge_the_story(bob_client, story):
    response = bob_client.post("/inbox/story/acknowledge", {"story": "recompute-1:acct"})
    assert response.status_code == 403
    assert set(Alert.objects.values_list("status", flat=True)) == {AlertStatus.OPEN}


def test_a_plain_post_redirects_back_to_the_inbox(alice_client, story):
    response = alice_client.post("/inbox/story/acknowledge", {"story": "recompute-1:acct"})
    assert response.status_code == 302 and response["Location"].startswith("/inbox/")
    assert Alert.objects.filter(status=AlertStatus.ACKNOWLEDGED).count() == 2
