"""The JSON API (/api/v1/): token auth, the import door and the accounts endpoints."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, ApiToken, Contract, User
from accounts.services import api_token_create
from cs_portal.models import ImportRun
from tests.conftest import table_counts, table_rows
from tests.factories import AccountFactory, ApiTokenFactory, ContractFactory, UserFactory

UNAUTHORIZED = {"detail": "Missing or invalid token. Send Authorization: Bearer <token>."}
ACCOUNTS_CSV = (
    "external_id,name,segment,tier,csm,ae,se,seats\n"
    "globex,Globex Corp,self_serve,3,alice@cs.example,,,10\n"
    "initech,Initech,institution,1,,maya@cs.example,,\n"
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_csv(client, kind: str, body: str | bytes, token: str | None, **kwargs):
    headers = bearer(token) if token else {}
    return client.post(
        f"/api/v1/import/{kind}", data=body, content_type="text/csv", headers=headers, **kwargs
    )


def post_json(client, kind: str, payload, token: str | None):
    headers = bearer(token) if token else {}
    return client.post(
        f"/api/v1/import/{kind}",
        data=json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": "Token csp_maya_manager_token"},
    ],
)
def test_import_without_a_valid_token_is_401_and_writes_nothing(client, maya_token, acme, headers):
    rows = table_rows()
    response = client.post(
        "/api/v1/import/accounts", data=ACCOUNTS_CSV, content_type="text/csv", headers=headers
    )
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert table_rows() == rows
    assert ImportRun.objects.count() == 0


def test_revoked_token_or_inactive_user_is_401(client, maya, maya_token):
    ApiToken.objects.filter(user=maya).update(revoked=True)
    assert client.get("/api/v1/accounts", headers=bearer(maya_token)).status_code == 401
    ApiToken.objects.filter(user=maya).update(revoked=False)
    User.objects.filter(pk=maya.pk).update(is_active=False)
    assert client.get("/api/v1/accounts", headers=bearer(maya_token)).status_code == 401


def test_a_session_login_is_not_enough_for_the_api(maya_client):
    response = maya_client.get("/api/v1/accounts")
    assert response.status_code == 401


def test_using_a_token_records_when(client, maya, maya_token):
    assert ApiToken.objects.get(user=maya).last_used_at is None
    client.get("/api/v1/accounts", headers=bearer(maya_token))
    used = ApiToken.objects.get(user=maya).last_used_at
    assert used is not None
    assert timezone.now() - used < timedelta(minutes=1)


@pytest.mark.parametrize("persona", ["alice", "pat"])
def test_import_with_a_non_manager_token_is_403_and_writes_nothing(client, request, acme, persona):
    user = request.getfixturevalue(persona)
    ApiTokenFactory(user=user, raw="csp_not_a_manager")
    rows = table_rows()
    csv_response = post_csv(client, "accounts", ACCOUNTS_CSV, "csp_not_a_manager")
    json_response = post_json(
        client, "users", {"rows": [{"email": "x@cs.example", "role": "admin"}]}, "csp_not_a_manager"
    )
    for response in (csv_response, json_response):
        assert response.status_code == 403
        assert response.json() == {
            "detail": "this token's user may not import data (managers and admins)"
        }
    assert table_rows() == rows
    assert ImportRun.objects.count() == 0


# --- the import door -------------------------------------------------------------------------


def test_csv_import_accepted(client, maya, maya_token, alice, acme):
    response = post_csv(client, "accounts", ACCOUNTS_CSV, maya_token)
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k != "seconds"} == {
        "kind": "accounts",
        "ok": True,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "error_count": 0,
        "errors": [],
    }
    assert list(
        Account.objects.order_by("external_id").values_list(
            "external_id", "tier", "csm_id", "ae_id"
        )
    ) == [("acme", 2, alice.pk, None), ("globex", 3, alice.pk, None), ("initech", 1, None, maya.pk)]
    run = ImportRun.objects.get()
    assert (run.origin, run.user_id, run.status, run.created) == ("api", maya.pk, "accepted", 2)


def test_csv_import_with_charset_and_repeat_is_a_no_op(client, maya_token, alice, maya):
    first = client.post(
        "/api/v1/import/accounts",
        data=ACCOUNTS_CSV,
        content_type="text/csv; charset=utf-8",
        headers=bearer(maya_token),
    )
    assert first.status_code == 200
    rows = table_rows()
    second = post_csv(client, "accounts", ACCOUNTS_CSV, maya_token)
    assert second.status_code == 200
    assert (second.json()["created"], second.json()["updated"], second.json()["unchanged"]) == (
        0,
        0,
        2,
    )
    assert table_rows() == rows


def test_csv_import_rejected_lists_every_row_and_writes_nothing(client, maya_token, alice, acme):
    body = (
        "account,start,end,arr,plan,commit_units\n"
        "acme,2026-01-01,2026-12-31,1000,developer,\n"
        "acme,2025-06-01,2025-05-31,10,developer,\n"
        "ghost,2025-01-01,2025-12-31,10,developer,\n"
        "acme,2024-01-01,2024-12-31,-10,developer,\n"
    )
    counts, rows = table_counts(), table_rows()
    response = post_csv(client, "contracts", body, maya_token)
    assert response.status_code == 400
    result = response.json()
    assert (result["ok"], result["rows"], result["created"], result["error_count"]) == (
        False,
        4,
        0,
        3,
    )
    assert result["errors"] == [
        {"row": 3, "column": "end", "message": "end 2025-05-31 is before start 2025-06-01"},
        {"row": 4, "column": "account", "message": "unknown account 'ghost'; import it first"},
        {"row": 5, "column": "arr", "message": "-10 is negative; it must be at least 0"},
    ]
    assert table_counts() == counts
    assert table_rows() == rows
    assert Contract.objects.count() == 0
    assert ImportRun.objects.get().status == "rejected"


def test_csv_import_in_latin1_is_400(client, maya_token, db):
    body = "email,role,name\nrene@cs.example,csm,René\n".encode("latin-1")
    response = post_csv(client, "users", body, maya_token)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 2,
            "column": "",
            "message": "the file is not UTF-8 encoded (bad byte 0xe9 on line 2); save it as "
            "'CSV UTF-8' and upload again",
        }
    ]
    assert not User.objects.filter(email="rene@cs.example").exists()


def test_json_import_accepted(client, maya_token, acme):
    payload = {
        "rows": [
            {
                "account": "acme",
                "start": "2026-01-01",
                "end": "2026-12-31",
                "arr": 120000.5,
                "plan": "developer",
                "commit_units": 500000,
            },
            {
                "account": "acme",
                "start": "2025-01-01",
                "end": "2025-12-31",
                "arr": "90000",
                "plan": "explorer",
                "commit_units": None,
            },
        ]
    }
    response = post_json(client, "contracts", payload, maya_token)
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["ok"]) == (2, True)
    assert list(
        Contract.objects.order_by("start").values_list("start", "arr", "plan", "commit_units")
    ) == [
        (date(2025, 1, 1), Decimal("90000"), "explorer", None),
        (date(2026, 1, 1), Decimal("120000.50"), "developer", Decimal("500000")),
    ]
    again = post_json(client, "contracts", payload, maya_token)
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (
        0,
        0,
        2,
    )


def test_json_import_rejected_numbers_rows_from_one(client, maya_token, acme):
    payload = {
        "rows": [
            {"account": "acme", "email": "a@acme.example", "role": "champion"},
            {"account": "acme", "email": "b@acme.example", "role": "ceo"},
            {"account": "nope", "email": "c@acme.example", "role": "analyst"},
        ]
    }
    rows = table_rows()
    response = post_json(client, "contacts", payload, maya_token)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 2,
            "column": "role",
            "message": "'ceo' is not one of: exec_sponsor, champion, data_engineer, analyst, other",
        },
        {"row": 3, "column": "account", "message": "unknown account 'nope'; import it first"},
    ]
    assert table_rows() == rows


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{not json", "the body is not valid JSON"),
        ('[{"email": "x@cs.example"}]', 'expected a JSON object {"rows": [...]}'),
        ('{"data": []}', 'expected a JSON object {"rows": [...]}'),
    ],
)
def test_json_body_of_the_wrong_shape_is_400(client, maya_token, body, detail):
    response = client.post(
        "/api/v1/import/users",
        data=body,
        content_type="application/json",
        headers=bearer(maya_token),
    )
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert User.objects.filter(email="x@cs.example").count() == 0


def test_json_with_empty_rows_is_400(client, maya_token):
    response = post_json(client, "users", {"rows": []}, maya_token)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 0, "column": "", "message": 'expected {"rows": [...]} with at least one row'}
    ]


def test_unknown_kind_is_404(client, maya_token):
    response = post_csv(client, "planets", "name\nmars\n", maya_token)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown import kind 'planets'"}
    assert ImportRun.objects.count() == 0


@pytest.mark.parametrize(
    "content_type", ["application/xml", "multipart/form-data", "application/x-www-form-urlencoded"]
)
def test_unsupported_content_type_is_415(client, maya_token, content_type):
    rows = table_rows()
    response = client.generic(
        "POST",
        "/api/v1/import/users",
        data="email,role\nx@cs.example,csm\n",
        content_type=content_type,
        headers=bearer(maya_token),
    )
    assert response.status_code == 415
    assert response.json() == {"detail": "send text/csv or application/json"}
    assert table_rows() == rows
    assert ImportRun.objects.count() == 0


# --- reading accounts ------------------------------------------------------------------------


@pytest.fixture
def api_book(acme, alice, bob, maya, today):
    ContractFactory(
        account=acme,
        start=today - timedelta(days=100),
        end=today + timedelta(days=30),
        arr=Decimal("100000"),
        plan="developer",
        commit_units=Decimal("2000000"),
    )
    ContractFactory(
        account=acme,
        start=today - timedelta(days=10),
        end=today + timedelta(days=20),
        arr=Decimal("20000.50"),
        plan="datastreams",
    )
    AccountFactory(
        external_id="zeta",
        name="Zeta Labs",
        tier=3,
        segment="self_serve",
        csm=bob,
        ae=maya,
        seats=12,
    )
    return acme


ACME_OUT = {
    "external_id": "acme",
    "name": "Acme Analytics",
    "segment": "institution",
    "tier": 2,
    "plan": "datastreams",
    "arr": "120000.50",
    "commit_units": None,
    "csm": "alice@cs.example",
    "ae": None,
    "se": None,
    "seats": None,
}
ZETA_OUT = {
    "external_id": "zeta",
    "name": "Zeta Labs",
    "segment": "self_serve",
    "tier": 3,
    "plan": None,
    "arr": "0.00",
    "commit_units": None,
    "renewal_date": None,
    "csm": "bob@cs.example",
    "ae": "maya@cs.example",
    "se": None,
    "seats": 12,
}


def test_list_accounts(client, api_book, alice_token, today):
    response = client.get("/api/v1/accounts", headers=bearer(alice_token))
    assert response.status_code == 200
    acme_out = {**ACME_OUT, "renewal_date": (today + timedelta(days=30)).isoformat()}
    # Every account (not just the CSM's own), renewal soonest first, no renewal last.
    assert response.json() == [acme_out, ZETA_OUT]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tier=3", ["zeta"]),
        ("segment=institution", ["acme"]),
        ("plan=datastreams", ["acme"]),
        ("renewal=30", ["acme"]),
        ("renewal=lapsed", ["zeta"]),
        ("q=ZETA", ["zeta"]),
        ("csm=me", ["acme"]),
        ("csm=none", []),
        ("sort=-name", ["zeta", "acme"]),
        ("sort=-arr", ["acme", "zeta"]),
    ],
)
def test_list_accounts_filters(client, api_book, alice_token, query, expected):
    response = client.get(f"/api/v1/accounts?{query}", headers=bearer(alice_token))
    assert response.status_code == 200
    assert [a["external_id"] for a in response.json()] == expected


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("tier=9", "tier must be 1, 2 or 3, not '9'"),
        (
            "sort=bogus",
            "sort must be one of risk, health, name, tier, plan, arr, renewal, csm "
            "(prefix '-' to reverse)",
        ),
    ],
)
def test_list_accounts_bad_filter_is_400(client, api_book, alice_token, query, detail):
    response = client.get(f"/api/v1/accounts?{query}", headers=bearer(alice_token))
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_get_one_account(client, api_book, pat, today):
    ApiTokenFactory(user=pat, raw="csp_pat_token")
    response = client.get("/api/v1/accounts/acme", headers=bearer("csp_pat_token"))
    assert response.status_code == 200
    assert response.json() == {**ACME_OUT, "renewal_date": (today + timedelta(days=30)).isoformat()}


def test_get_unknown_account_is_404(client, api_book, alice_token):
    response = client.get("/api/v1/accounts/nope", headers=bearer(alice_token))
    assert response.status_code == 404
    assert response.json() == {"detail": "no account 'nope'"}


def test_get_account_with_a_nul_in_the_id_is_400(client, api_book, alice_token):
    response = client.get("/api/v1/accounts/ac%00me", headers=bearer(alice_token))
    assert response.status_code == 400
    assert response.json() == {"detail": "path contains a NUL character (0x00); remove it"}


def test_get_account_without_token_is_401(client, api_book):
    response = client.get("/api/v1/accounts/acme")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_lists_the_import_endpoint(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/import/{kind}" in schema["paths"]
    operation = schema["paths"]["/api/v1/import/{kind}"]["post"]
    assert set(operation["requestBody"]["content"]) == {"text/csv", "application/json"}
    assert {"200", "400", "403", "404", "415"} <= set(operation["responses"])
    assert "/api/v1/accounts" in schema["paths"]
    assert "/api/v1/accounts/{external_id}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_manager_token_created_by_the_service_authenticates(client, db):
    manager = UserFactory(role="manager", email="boss@cs.example")
    token = api_token_create(user=manager)
    response = post_csv(client, "users", "email,role\nnew@cs.example,ae\n", token)
    assert response.status_code == 200
    assert User.objects.get(email="new@cs.example").role == "ae"


def test_money_is_always_in_cents(client, acme, alice_token, today):
    # 0.10 + 0.20 is 0.30000000000000004 in floating point, which is how SQLite sums.
    for days_ago, arr in ((1, "0.10"), (2, "0.20")):
        ContractFactory(
            account=acme,
            start=today - timedelta(days=days_ago),
            end=today + timedelta(days=5),
            arr=Decimal(arr),
            commit_units=Decimal("7"),
        )
    response = client.get("/api/v1/accounts/acme", headers=bearer(alice_token))
    assert (response.json()["arr"], response.json()["commit_units"]) == ("0.30", "7.00")
