"""GET /api/v1/incidents and /api/v1/incidents/{key}: the incident with the accounts it
touches; a bad filter is a 400 that says why, an unknown key a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.datatrust.conftest import TODAY, YESTERDAY

pytestmark = pytest.mark.django_db


def get(client, path: str, token: str):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_one_incident_with_the_accounts_it_touches(client, alice_token, world):
    response = get(client, f"/api/v1/incidents/{world.key}", alice_token)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("key", "kind", "severity", "resolved", "auto")} == {
        "key": world.key,
        "kind": "freshness",
        "severity": "high",
        "resolved": None,
        "auto": True,
    }
    assert (body["datasets"], body["chains"]) == (["ethereum.raw.logs"], ["ethereum"])
    assert body["title"] == "ethereum.raw.logs 47 min behind (SLA 15 min)"
    assert (body["effective"], body["note"]) == (None, "")
    assert body["affected_accounts"] == [
        {
            "external_id": "globex",
            "name": "Globex Capital",
            "tier": 1,
            "arr": "250000.00",
            "csm": "bob@cs.example",
            "used": ["ethereum.raw.logs"],
        },
        {
            "external_id": "acme",
            "name": "Acme Analytics",
            "tier": 2,
            "arr": "100000.00",
            "csm": "alice@cs.example",
            "used": ["ethereum.raw.logs"],
        },
    ]


def test_a_schema_change_carries_effective_and_note(client, alice_token, world):
    body = get(client, "/api/v1/incidents/CHG-TRACES", alice_token).json()
    assert (body["kind"], body["started"], body["effective"], body["note"]) == (
        "schema_change",
        YESTERDAY.isoformat(),
        (TODAY + timedelta(days=21)).isoformat(),
        "Use the array form.",
    )
    assert [a["external_id"] for a in body["affected_accounts"]] == ["globex"]


def test_the_list_filters_by_status_and_kind(client, alice_token, world):
    keys = [i["key"] for i in get(client, "/api/v1/incidents", alice_token).json()]
    assert keys == [world.key, "CHG-TRACES", "INC-OLD"]
    resolved = get(client, "/api/v1/incidents?status=resolved", alice_token).json()
    assert [i["key"] for i in resolved] == ["INC-OLD"]
    changes = get(client, "/api/v1/incidents?status=open&kind=schema_change", alice_token).json()
    assert [i["key"] for i in changes] == ["CHG-TRACES"]
    assert [i["key"] for i in get(client, "/api/v1/incidents?limit=1", alice_token).json()] == [
        world.key
    ]


@pytest.mark.parametrize(
    "query, detail",
    [
        ("status=closed", "status must be one of open, resolved, not 'closed'"),
        (
            "kind=meteor",
            "kind must be one of freshness, accuracy, outage, schema_change, not 'meteor'",
        ),
        ("limit=0", "limit must be a whole number from 1 to 500, not '0'"),
        ("limit=lots", "limit must be a whole number from 1 to 500, not 'lots'"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_why(client, alice_token, db, query, detail):
    response = get(client, f"/api/v1/incidents?{query}", alice_token)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_an_unknown_key_is_404(client, alice_token, db):
    response = get(client, "/api/v1/incidents/NOPE", alice_token)
    assert response.status_code == 404
    assert response.json() == {"detail": "no incident 'NOPE'"}


def test_incidents_need_a_token(client, db):
    assert client.get("/api/v1/incidents").status_code == 401
    assert client.get("/api/v1/incidents/NOPE").status_code == 401
