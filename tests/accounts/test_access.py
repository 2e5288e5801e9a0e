"""Who may do what: the login wall, ownership of accounts, manager-only tier moves and imports.

Every denied request is checked for the side effect it must not have had.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role, TierChange, Touchpoint
from accounts.permissions import can_change_tier, can_edit_account, can_import
from cs_portal.models import ImportRun
from tests.conftest import table_counts, table_rows
from tests.factories import AccountFactory, UserFactory

# --- the rules themselves --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "owns", "edit", "tier", "imports"),
    [
        ("alice", True, True, False, False),  # CSM on her own account
        ("bob", False, False, False, False),  # CSM on someone else's account
        ("maya", False, True, True, True),  # manager edits every account
        ("pat", False, False, False, False),  # product reads only
    ],
)
def test_role_rules(request, acme, persona, owns, edit, tier, imports):
    user = request.getfixturevalue(persona)
    assert (acme.csm_id == user.pk) is owns
    assert can_edit_account(user, acme) is edit
    assert can_change_tier(user) is tier
    assert can_import(user) is imports


@pytest.mark.parametrize("role", [Role.AE, Role.SE])
def test_ae_and_se_cannot_edit_even_the_accounts_they_are_on(db, role):
    user = UserFactory(role=role)
    account = AccountFactory(ae=user, se=user, csm=user)
    assert can_edit_account(user, account) is False
    assert can_change_tier(user) is False
    assert can_import(user) is False


def test_admin_and_superuser_may_do_everything(db, acme):
    admin = UserFactory(role=Role.ADMIN)
    superuser = UserFactory(role=Role.PRODUCT, is_superuser=True)
    for user in (admin, superuser):
        assert (can_edit_account(user, acme), can_change_tier(user), can_import(user)) == (
            True,
            True,
            True,
        )


def test_anonymous_may_do_nothing(acme):
    anonymous = AnonymousUser()
    assert (
        can_edit_account(anonymous, acme),
        can_change_tier(anonymous),
        can_import(anonymous),
    ) == (False, False, False)


def test_inactive_csm_cannot_log_in_to_edit(db, alice, acme):
    alice.is_active = False
    alice.save()
    client = Client()
    client.force_login(alice)
    response = client.get("/accounts/acme/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/accounts/acme/"


# --- the login wall --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/book/", "/accounts/acme/", "/imports/", "/"])
def test_anonymous_is_sent_to_login(client, acme, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_anonymous_post_writes_nothing(client, acme):
    rows = table_rows()
    responses = [
        client.post("/accounts/acme/touchpoints", {"kind": "meeting", "date": "2026-01-02"}),
        client.post("/accounts/acme/tier", {"tier": "1", "reason": "Big"}),
        client.post("/imports/", {"kind": "users"}),
    ]
    assert [r.status_code for r in responses] == [302, 302, 302]
    assert all(r["Location"].startswith("/login/?next=") for r in responses)
    assert table_rows() == rows
    assert ImportRun.objects.count() == 0


def test_login_page_is_open(client, db):
    response = client.get("/login/")
    assert response.status_code == 200


# --- touchpoints: owners and managers only ---------------------------------------------------


def test_csm_cannot_log_a_touchpoint_on_another_csms_account(bob_client, acme, today):
    counts = table_counts()
    response = bob_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "meeting", "date": today.isoformat(), "note": "Sneaky note"},
    )
    assert response.status_code == 403
    assert "You can only log touchpoints on accounts you own." in response.text
    assert Touchpoint.objects.count() == 0
    assert table_counts() == counts


def test_csm_cannot_log_a_touchpoint_via_htmx_on_another_csms_account(bob_client, acme, today):
    response = bob_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "meeting", "date": today.isoformat(), "note": "Sneaky note"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert "<html" not in response.text
    assert "You can only log touchpoints on accounts you own." in response.text
    assert Touchpoint.objects.count() == 0


def test_csm_logs_a_touchpoint_on_their_own_account(alice_client, alice, acme, today):
    on = today - timedelta(days=1)
    response = alice_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "meeting", "date": on.isoformat(), "note": "  Walked through the renewal  "},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/acme/"
    assert list(
        Touchpoint.objects.values_list(
            "account__external_id", "kind", "date", "note", "logged_by", "score", "contact"
        )
    ) == [("acme", "meeting", on, "Walked through the renewal", alice.pk, None, None)]
    page = alice_client.get("/accounts/acme/")
    assert "Touchpoint logged." in page.text
    assert "Walked through the renewal" in page.text


def test_manager_logs_a_touchpoint_on_any_account(maya_client, maya, acme, today):
    response = maya_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "email", "date": today.isoformat(), "note": "Exec intro"},
    )
    assert response.status_code == 302
    assert list(Touchpoint.objects.values_list("kind", "logged_by", "note")) == [
        ("email", maya.pk, "Exec intro")
    ]


def test_product_user_reads_the_account_but_cannot_log(pat_client, acme, today):
    page = pat_client.get("/accounts/acme/")
    assert page.status_code == 200
    assert "Acme Analytics" in page.text
    assert 'id="touchpoint-form"' not in page.text
    assert 'action="/accounts/acme/touchpoints"' not in page.text
    assert 'id="tier-card"' not in page.text
    assert "your role can view accounts but not change them" in page.text

    counts = table_counts()
    response = pat_client.post(
        "/accounts/acme/touchpoints",
        {"kind": "meeting", "date": today.isoformat(), "note": "Product note"},
    )
    assert response.status_code == 403
    assert Touchpoint.objects.count() == 0
    assert table_counts() == counts


def test_other_csm_sees_the_account_read_only(bob_client, acme):
    page = bob_client.get("/accounts/acme/")
    assert page.status_code == 200
    assert 'id="touchpoint-form"' not in page.text
    assert "Read only: this account belongs to Alice Archer." in page.text


def test_owner_sees_the_touchpoint_form(alice_client, acme):
    page = alice_client.get("/accounts/acme/")
    assert 'id="touchpoint-form"' in page.text
    assert 'id="tier-card"' not in page.text  # CSMs do not move tiers


# --- tier changes: managers only, with a reason ----------------------------------------------


def test_csm_cannot_change_tier_even_on_their_own_account(alice_client, acme):
    response = alice_client.post("/accounts/acme/tier", {"tier": "1", "reason": "They grew"})
    assert response.status_code == 403
    assert "Only a CS manager can change an account&#x27;s tier." in response.text
    acme.refresh_from_db()
    assert acme.tier == 2
    assert TierChange.objects.count() == 0


def test_product_user_cannot_change_tier(pat_client, acme):
    response = pat_client.post("/accounts/acme/tier", {"tier": "1", "reason": "They grew"})
    assert response.status_code == 403
    acme.refresh_from_db()
    assert acme.tier == 2
    assert TierChange.objects.count() == 0


def test_manager_changes_tier_with_a_reason(maya_client, maya, acme):
    response = maya_client.post(
        "/accounts/acme/tier", {"tier": "1", "reason": "  ARR passed $250k  "}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/acme/"
    acme.refresh_from_db()
    assert acme.tier == 1
    assert list(
        TierChange.objects.values_list(
            "account__external_id", "from_tier", "to_tier", "reason", "changed_by"
        )
    ) == [("acme", 2, 1, "ARR passed $250k", maya.pk)]
    page = maya_client.get("/accounts/acme/")
    assert "Acme Analytics moved to tier 1." in page.text
    assert "Tier 2 → 1" in page.text


def test_manager_changes_tier_via_htmx_is_told_to_reload(maya_client, acme):
    response = maya_client.post(
        "/accounts/acme/tier", {"tier": "3", "reason": "Shrinking"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == "http://testserver/accounts/acme/"
    acme.refresh_from_db()
    assert acme.tier == 3


@pytest.mark.parametrize("reason", ["", "   "])
def test_manager_cannot_change_tier_without_a_reason(maya_client, acme, reason):
    response = maya_client.post("/accounts/acme/tier", {"tier": "1", "reason": reason})
    assert response.status_code == 422
    assert "Say why the tier changes; it goes into the account&#x27;s history." in response.text
    acme.refresh_from_db()
    assert acme.tier == 2
    assert TierChange.objects.count() == 0


def test_manager_cannot_move_to_the_same_or_an_unknown_tier(maya_client, acme):
    same = maya_client.post("/accounts/acme/tier", {"tier": "2", "reason": "No-op"})
    unknown = maya_client.post(
        "/accounts/acme/tier", {"tier": "7", "reason": "Typo"}, headers={"HX-Request": "true"}
    )
    assert same.status_code == 422
    assert "The account is already tier 2." in same.text
    assert unknown.status_code == 422
    assert "Choose tier 1, 2 or 3." in unknown.text
    assert "<html" not in unknown.text
    acme.refresh_from_db()
    assert acme.tier == 2
    assert TierChange.objects.count() == 0


# --- imports: managers and admins only -------------------------------------------------------


@pytest.mark.parametrize("persona", ["alice_client", "pat_client"])
def test_non_managers_cannot_upload_imports(request, acme, persona):
    client = request.getfixturevalue(persona)
    counts, rows = table_counts(), table_rows()
    upload = SimpleUploadedFile(
        "users.csv", b"email,role\nintruder@cs.example,admin\n", content_type="text/csv"
    )
    response = client.post("/imports/", {"kind": "users", "file": upload})
    assert response.status_code == 403
    assert "Only CS managers and admins can import data." in response.text
    assert table_counts() == counts
    assert table_rows() == rows
    assert ImportRun.objects.count() == 0


def test_csm_sees_the_import_page_without_the_form(alice_client):
    page = alice_client.get("/imports/")
    assert page.status_code == 200
    assert 'id="import-form"' not in page.text
    assert "Imports are done by CS managers and admins." in page.text


def test_manager_sees_the_import_form(maya_client):
    page = maya_client.get("/imports/")
    assert page.status_code == 200
    assert 'id="import-form"' in page.text
