"""The health endpoints of the JSON API: one account's explained score, the book, daily usage."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from accounts.services import api_token_create
from cs_portal.imports import run_import
from health.models import HealthSnapshot
from health.services import health_recompute
from tests.conftest import usage_landed
from tests.factories import AccountFactory, UserFactory

END = date(2026, 3, 31)
SIGNAL_FIELDS = {
    "key",
    "label",
    "weight",
    "value",
    "raw",
    "score",
    "contribution",
    "applies",
    "reason",
}


pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.fixture
def auth(alice) -> dict[str, str]:
    """Reading health needs any valid token; a CSM's will do."""
    return {"Authorization": f"Bearer {api_token_create(user=alice)}"}


def import_units(external_id: str, values: dict[date, float], **dims) -> None:
    rows = [
        {"account": external_id, "date": d.isoformat(), "metric": "units", "value": v, **dims}
        for d, v in values.items()
    ]
    assert run_import("usage", json_rows=rows).ok


@pytest.fixture
def cliff(acme):
    """Acme: 60 steady days, then the last 7 at 10%: fine on March 24, red on March 31."""
    values = {END - timedelta(days=n): (100.0 if n < 7 else 1000.0) for n in range(60)}
    import_units("acme", values)
    health_recompute(as_of=END - timedelta(days=7))
    health_recompute(as_of=END)
    return acme


# --- one account -----------------------------------------------------------------------------


def test_account_health_returns_the_explained_latest_snapshot(client, auth, cliff):
    response = client.get("/api/v1/accounts/acme/health", headers=auth)

    assert response.status_code == 200
    body = response.json()
    snap = HealthSnapshot.objects.get(account=cliff, date=END)
    assert {k: body[k] for k in ("account", "name", "as_of", "score", "band", "model_version")} == {
        "account": "acme",
        "name": "Acme Analytics",
        "as_of": "2026-03-31",
        "score": snap.score,
        "band": "red",
        "model_version": 1,
    }
    assert body["score"] <= 39
    assert body["overrides"] == [
        {
            "key": "sharp_drop",
            "detail": (
                "usage below 50% of the prior 28-day daily average on each of the last 7 days: "
                "100 units/day vs 1,000"
            ),
        }
    ]
    assert [s["key"] for s in body["signals"]] == [
        "usage_trend",
        "commit_pace",
        "breadth",
        "active_users",
        "production_depth",
        "recency",
        "exec_engagement",
        "touch_cadence",
        "sentiment",
        "data_trust",
        "onboarding",
    ]
    assert all(set(s) == SIGNAL_FIELDS for s in body["signals"])
    trend = body["signals"][0]
    # 21 days × 1000 + 7 × 100 = 21,700 vs 28 × 1000 = 28,000 → 0.775 → (0.775 − 0.5) / 0.6
    assert {k: trend[k] for k in ("weight", "raw", "score", "applies")} == {
        "weight": 34,
        "raw": 0.775,
        "score": 45.8,
        "applies": True,
    }
    commit = body["signals"][1]
    assert {k: commit[k] for k in ("applies", "score", "contribution", "reason")} == {
        "applies": False,
        "score": None,
        "contribution": 0.0,
        "reason": "no committed units in the current contract",
    }


def test_as_of_reads_that_days_snapshot(client, auth, cliff):
    body = client.get("/api/v1/accounts/acme/health?as_of=2026-03-24", headers=auth).json()
    earlier = HealthSnapshot.objects.get(account=cliff, date=date(2026, 3, 24))
    assert (body["as_of"], body["score"], body["band"], body["overrides"]) == (
        "2026-03-24",
        earlier.score,
        earlier.band,
        [],
    )
    assert body["band"] != "red"


def test_as_of_without_a_snapshot_is_404(client, auth, cliff):
    response = client.get("/api/v1/accounts/acme/health?as_of=2026-03-25", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "no health snapshot for 'acme' on 2026-03-25"}


def test_account_never_scored_is_404(client, auth, acme):
    response = client.get("/api/v1/accounts/acme/health", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "no health snapshot for 'acme' yet"}


@pytest.mark.parametrize("raw", ["garbage", "2026-02-30", "31/03/2026"])
def test_bad_as_of_is_400_with_a_message(client, auth, cliff, raw):
    response = client.get(f"/api/v1/accounts/acme/health?as_of={raw}", headers=auth)
    assert response.status_code == 400
    assert response.json() == {"detail": f"as_of must be a date in YYYY-MM-DD form, not '{raw}'"}


def test_unknown_account_is_404(client, auth, db):
    response = client.get("/api/v1/accounts/nope/health", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "no account 'nope'"}


def test_health_needs_a_token(client, cliff):
    response = client.get("/api/v1/accounts/acme/health")
    assert response.status_code == 401


# --- the book --------------------------------------------------------------------------------


@pytest.fixture
def scored_book(db, alice, bob):
    """Five accounts scored on END: bands set by hand-made snapshots on top of a recompute."""
    specs = [  # external_id, tier, csm, band, score
        ("t1-alice-red", 1, alice, "red", 22),
        ("t1-alice-red-2", 1, alice, "red", 35),
        ("t1-alice-green", 1, alice, "green", 88),
        ("t1-bob-red", 1, bob, "red", 10),
        ("t2-alice-red", 2, alice, "red", 30),
    ]
    for external_id, tier, csm, _, _ in specs:
        AccountFactory(external_id=external_id, name=external_id.title(), tier=tier, csm=csm)
    usage_landed(END)
    health_recompute(as_of=END)
    for external_id, _, _, band, score in specs:
        HealthSnapshot.objects.filter(account__external_id=external_id, date=END).update(
            band=band, score=score
        )
    return specs


def test_book_filters_by_band_tier_and_csm(client, auth, scored_book):
    response = client.get("/api/v1/health?band=red&tier=1&csm=alice@cs.example", headers=auth)

    assert response.status_code == 200
    assert response.json() == [
        {
            "account": "t1-alice-red",
            "name": "T1-Alice-Red",
            "tier": 1,
            "csm": "alice@cs.example",
            "as_of": "2026-03-31",
            "score": 22,
            "band": "red",
            "overrides": [],
        },
        {
            "account": "t1-alice-red-2",
            "name": "T1-Alice-Red-2",
            "tier": 1,
            "csm": "alice@cs.example",
            "as_of": "2026-03-31",
            "score": 35,
            "band": "red",
            "overrides": [],
        },
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["t1-bob-red", "t1-alice-red", "t2-alice-red", "t1-alice-red-2", "t1-alice-green"]),
        ("band=green", ["t1-alice-green"]),
        ("tier=2", ["t2-alice-red"]),
        ("csm=bob@cs.example", ["t1-bob-red"]),
        ("band=yellow", []),
    ],
)
def test_book_is_riskiest_first_and_each_filter_narrows(client, auth, scored_book, query, expected):
    body = client.get(f"/api/v1/health?{query}", headers=auth).json()
    assert [row["account"] for row in body] == expected


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("band=purple", "band must be one of green, yellow, red, not 'purple'"),
        ("tier=4", "tier must be 1, 2 or 3, not '4'"),
        ("csm=nobody@cs.example", "csm 'nobody@cs.example' is not a user (give an email or id)"),
        ("as_of=yesterday", "as_of must be a date in YYYY-MM-DD form, not 'yesterday'"),
    ],
)
def test_book_bad_filters_are_400(client, auth, scored_book, query, detail):
    response = client.get(f"/api/v1/health?{query}", headers=auth)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_book_with_nothing_scored_is_empty(client, auth, db):
    assert client.get("/api/v1/health", headers=auth).json() == []


# --- usage -----------------------------------------------------------------------------------


def test_usage_is_daily_totals_summed_over_dimensions_and_zero_filled(client, auth, acme):
    import_units("acme", {date(2026, 3, 2): 100, date(2026, 3, 4): 40}, product="explorer")
    import_units("acme", {date(2026, 3, 2): 25}, product="developer")
    assert run_import(
        "usage",
        json_rows=[{"account": "acme", "date": "2026-03-03", "metric": "queries", "value": 9}],
    ).ok

    response = client.get(
        "/api/v1/accounts/acme/usage?metric=units&start=2026-03-01&end=2026-03-05", headers=auth
    )

    assert response.status_code == 200
    assert response.json() == {
        "account": "acme",
        "metric": "units",
        "start": "2026-03-01",
        "end": "2026-03-05",
        "points": [
            {"date": "2026-03-01", "value": 0.0},
            {"date": "2026-03-02", "value": 125.0},
            {"date": "2026-03-03", "value": 0.0},
            {"date": "2026-03-04", "value": 40.0},
            {"date": "2026-03-05", "value": 0.0},
        ],
    }


def test_usage_totals_carry_no_float_noise(client, auth, acme):
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point; a chart or a spreadsheet
    # reading the API should see 0.3.
    import_units("acme", {date(2026, 3, 2): 0.1}, product="explorer")
    import_units("acme", {date(2026, 3, 2): 0.2}, product="developer")

    response = client.get(
        "/api/v1/accounts/acme/usage?metric=units&start=2026-03-02&end=2026-03-02", headers=auth
    )

    assert response.json()["points"] == [{"date": "2026-03-02", "value": 0.3}]


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        (
            "metric=logins",
            400,
            "metric must be one of queries, units, api_calls, stream_events, "
            "active_users, failed_queries, not 'logins'",
        ),
        ("start=2026-03-05&end=2026-03-01", 400, "start 2026-03-05 is after end 2026-03-01"),
        ("start=March", 400, "start must be a date in YYYY-MM-DD form, not 'March'"),
    ],
)
def test_usage_bad_query_is_400(client, auth, acme, query, status, detail):
    response = client.get(f"/api/v1/accounts/acme/usage?{query}", headers=auth)
    assert response.status_code == status
    assert response.json() == {"detail": detail}


def test_usage_of_an_unknown_account_is_404(client, auth, db):
    response = client.get("/api/v1/accounts/nope/usage?metric=units", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "no account 'nope'"}


def test_a_product_user_token_reads_health_too(client, cliff):
    token = api_token_create(user=UserFactory(role="product"))
    response = client.get(
        "/api/v1/accounts/acme/health", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
