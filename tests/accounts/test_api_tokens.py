"""API tokens in the browser: each user lists, creates (shown once) and revokes their own; the
API refuses expired and revoked tokens and records when a token was last used."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from tests.factories import ApiTokenFactory

PAGE = "/settings/tokens/"


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def api_status(client, raw: str) -> int:
    return client.get("/api/v1/accounts", headers=bearer(raw)).status_code


@pytest.fixture
def alice_tokens(alice, bob):
    now = timezone.now()
    return {
        "ci": ApiTokenFactory(
            user=alice, name="Nightly CI import", raw="csp_alice_ci_tok", last_used_at=now
        ),
        "old": ApiTokenFactory(
            user=alice, name="Old laptop", raw="csp_alice_old_to", revoked=True, revoked_at=now
        ),
        "bobs": ApiTokenFactory(user=bob, name="Bob's script", raw="csp_bob_script_t"),
    }


def test_the_page_lists_only_the_users_own_tokens(alice_client, alice_tokens):
    response = alice_client.get(PAGE)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Nightly CI import" in body
    assert "csp_alice_ci" in body  # the prefix, to recognise it
    assert "Old laptop" in body and "Revoked" in body
    assert "Bob&#x27;s script" not in body and "csp_bob_scri" not in body
    assert "csp_alice_ci_tok" not in body  # never more than the prefix


def test_creating_a_token_shows_it_once_and_it_works(alice_client, client):
    response = alice_client.post(PAGE, {"name": "Warehouse sync", "expires_in_days": "30"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(name="Warehouse sync")
    raw = response.context["created_token"]
    assert raw in response.content.decode()
    assert raw.startswith(token.prefix) and token.token_hash == ApiToken.hash(raw)
    assert token.user.email == "alice@cs.example"
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert raw not in alice_client.get(PAGE).content.decode()
    assert api_status(client, raw) == 200


def test_a_token_without_a_name_is_not_created(alice_client):
    response = alice_client.post(PAGE, {"name": "", "expires_in_days": "30"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert ApiToken.objects.count() == 0


def test_revoking_a_token_stops_it_at_once(alice_client, client, alice_tokens):
    assert api_status(client, "csp_alice_ci_tok") == 200
    token = alice_tokens["ci"]

    response = alice_client.post(PAGE + "revoke", {"token": token.pk})

    assert response.status_code == 302 and response.url == PAGE
    token.refresh_from_db()
    assert token.revoked and token.revoked_at is not None
    assert api_status(client, "csp_alice_ci_tok") == 401
    assert "Revoked" in alice_client.get(PAGE).content.decode()


def test_nobody_revokes_another_users_token(alice_client, client, alice_tokens):
    bobs = alice_tokens["bobs"]

    response = alice_client.post(PAGE + "revoke", {"token": bobs.pk})

    assert response.status_code == 404
    bobs.refresh_from_db()
    assert not bobs.revoked and bobs.revoked_at is None
    assert api_status(client, "csp_bob_script_t") == 200


def test_an_expired_token_is_refused(client, alice):
    ApiTokenFactory(user=alice, raw="csp_expired_tok", expires_at=timezone.now())
    ApiTokenFactory(
        user=alice, raw="csp_future_toke", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api_status(client, "csp_expired_tok") == 401
    assert api_status(client, "csp_future_toke") == 200


def test_last_used_is_recorded_at_most_once_a_minute(client, alice, django_assert_num_queries):
    token = ApiTokenFactory(user=alice, raw="csp_usage_token")
    assert api_status(client, "csp_usage_token") == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)

    assert api_status(client, "csp_usage_token") == 200
    token.refresh_from_db()
    assert token.last_used_at == first

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert api_status(client, "csp_usage_token") == 200
    token.refresh_from_db()
    assert token.last_used_at > first


def test_the_page_needs_a_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.url.startswith("/login/")
