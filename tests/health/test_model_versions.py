"""Health model versions: every save is a new version, old snapshots keep the one they used."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from cs_portal.imports import run_import
from health.engine import DEFAULT_WEIGHTS, SIGNAL_KEYS
from health.models import HealthModel, HealthSnapshot
from health.services import health_model_create, health_model_current, health_recompute
from tests.conftest import table_rows
from tests.factories import AccountFactory

ONLY_TRUST = {key: (100 if key == "data_trust" else 0) for key in SIGNAL_KEYS}


pytestmark = pytest.mark.usefixtures("eager_celery")


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def steady_usage(external_id: str, until: date, days: int = 60) -> None:
    rows = []
    for n in range(days):
        day = (until - timedelta(days=n)).isoformat()
        rows += [
            {
                "account": external_id,
                "date": day,
                "metric": "units",
                "value": 1000,
                "chain": "ethereum",
                "dataset": "ethereum.core.transactions",
            },
            {"account": external_id, "date": day, "metric": "api_calls", "value": 400},
            {"account": external_id, "date": day, "metric": "active_users", "value": 6},
        ]
    assert run_import("usage", json_rows=rows).ok


@pytest.fixture
def book(db):
    """Two accounts scored yesterday on v1: green (healthy) and red (idle: 29, no active users
    of its 10 seats, never touched, no usage and no contract)."""
    day = yesterday_utc()
    healthy = AccountFactory(external_id="healthy", tier=3, seats=10)
    idle = AccountFactory(external_id="idle", tier=2, seats=10)
    steady_usage("healthy", day)
    health_recompute(as_of=day)
    assert dict(HealthSnapshot.objects.values_list("account__external_id", "band")) == {
        "healthy": "green",
        "idle": "red",
    }
    return healthy, idle


def form(weights: dict[str, float], action: str, **extra) -> dict[str, str]:
    data = {f"w_{k}": str(v) for k, v in weights.items()}
    data.update({"green_min": "70", "yellow_min": "40", "note": "", "action": action})
    data.update(extra)
    return data


# --- services --------------------------------------------------------------------------------


def test_the_first_model_is_the_default_v1(db):
    model = health_model_current()
    assert (model.version, model.weights, model.green_min, model.yellow_min, model.note) == (
        1,
        DEFAULT_WEIGHTS,
        70,
        40,
        "Default model",
    )


def test_create_makes_v2_and_keeps_v1(db, maya):
    v1 = health_model_current()
    v2 = health_model_create(
        weights={"usage_trend": 50, "data_trust": 50},
        green_min=75,
        yellow_min=45,
        note="  Usage first  ",
        created_by=maya,
    )

    assert v2.version == 2
    assert v2.weights == {k: {"usage_trend": 50, "data_trust": 50}.get(k, 0) for k in SIGNAL_KEYS}
    assert (v2.green_min, v2.yellow_min, v2.note, v2.created_by) == (75, 45, "Usage first", maya)
    assert list(HealthModel.objects.values_list("version", flat=True)) == [2, 1]
    v1.refresh_from_db()
    assert v1.weights == DEFAULT_WEIGHTS
    assert health_model_current() == v2


def test_old_snapshots_keep_v1_while_new_recomputes_use_v2(book, maya):
    healthy, idle = book
    day = yesterday_utc()
    before = HealthSnapshot.objects.get(account=idle, date=day)
    assert (before.model.version, before.score) == (1, 29)

    v2 = health_model_create(
        weights=ONLY_TRUST, green_min=70, yellow_min=40, note="trust", created_by=maya
    )
    health_recompute(as_of=day + timedelta(days=1))

    old = HealthSnapshot.objects.get(account=idle, date=day)
    new = HealthSnapshot.objects.get(account=idle, date=day + timedelta(days=1))
    assert (old.model.version, old.score, old.band) == (1, 29, "red")
    assert (new.model, new.score, new.band) == (v2, 100, "green")


@pytest.mark.parametrize(
    ("weights", "green", "yellow", "errors"),
    [
        (
            {**DEFAULT_WEIGHTS, "usage_trend": 33},
            70,
            40,
            {"weights": ["weights must sum to 100 (they sum to 99)"]},
        ),
        (
            {**DEFAULT_WEIGHTS, "usage_trend": 35},
            70,
            40,
            {"weights": ["weights must sum to 100 (they sum to 101)"]},
        ),
        (
            {**DEFAULT_WEIGHTS, "usage_trend": -22, "breadth": 56},
            70,
            40,
            {"weights": ["weights cannot be negative"]},
        ),
        ({"logins": 100}, 70, 40, {"weights": ["unknown signals: logins"]}),
        (
            DEFAULT_WEIGHTS,
            40,
            70,
            {"thresholds": ["need 0 < yellow threshold < green threshold ≤ 100"]},
        ),
    ],
)
def test_an_invalid_model_is_refused_and_no_version_is_made(
    db, maya, weights, green, yellow, errors
):
    health_model_current()
    with pytest.raises(ValidationError) as exc:
        health_model_create(
            weights=weights, green_min=green, yellow_min=yellow, note="", created_by=maya
        )
    assert exc.value.message_dict == errors
    assert list(HealthModel.objects.values_list("version", flat=True)) == [1]


# --- the page --------------------------------------------------------------------------------


def test_manager_save_creates_a_version_and_rescores_the_book(
    book, maya, maya_client, django_capture_on_commit_callbacks
):
    healthy, idle = book
    # The rescore is queued once the save commits (inline here: it runs right then).
    with django_capture_on_commit_callbacks(execute=True):
        response = maya_client.post("/health/model/", form(ONLY_TRUST, "save", note="Trust only"))

    assert response.status_code == 302
    assert response["Location"] == "/health/model/"
    v2 = HealthModel.objects.get(version=2)
    assert (v2.weights, v2.note, v2.created_by) == (ONLY_TRUST, "Trust only", maya)
    snaps = HealthSnapshot.objects.filter(date=yesterday_utc()).order_by("account__external_id")
    assert [(s.account.external_id, s.model.version, s.score, s.band) for s in snaps] == [
        ("healthy", 2, 100, "green"),
        ("idle", 2, 100, "green"),
    ]

    page = maya_client.get("/health/model/")
    assert "Saved health model v2 and rescored the book." in page.content.decode()


def test_manager_preview_counts_band_changes_and_saves_nothing(book, maya_client):
    before = table_rows()
    response = maya_client.post("/health/model/", form(ONLY_TRUST, "preview"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 of 2 accounts would change band" in html
    assert "<li>1 red → green</li>" in html
    assert table_rows() == before
    assert list(HealthModel.objects.values_list("version", flat=True)) == [1]


def test_preview_over_htmx_returns_only_the_editor(book, maya_client):
    response = maya_client.post(
        "/health/model/", form(ONLY_TRUST, "preview"), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="model-editor">')
    assert "1 of 2 accounts would change band" in html
    assert "<html" not in html


def test_preview_with_unchanged_weights_changes_nothing(book, maya_client):
    response = maya_client.post("/health/model/", form(DEFAULT_WEIGHTS, "preview"))
    assert "0 of 2 accounts would change band" in response.content.decode()


def test_weights_not_summing_to_100_are_shown_and_nothing_is_saved(book, maya_client):
    before = table_rows()
    response = maya_client.post("/health/model/", form({**DEFAULT_WEIGHTS, "breadth": 2}, "save"))
    assert response.status_code == 422
    assert "weights must sum to 100 (they sum to 98)" in response.content.decode()
    assert re.search(r'data-testid="weight-total">98<', response.content.decode())
    assert table_rows() == before


def test_the_editor_shows_the_weights_total(book, maya_client):
    page = maya_client.get("/health/model/").content.decode()
    assert re.search(r'data-testid="weight-total">100<', page)


def test_csm_post_is_403_and_changes_nothing(book, alice_client):
    before = table_rows()
    for action in ("save", "preview"):
        response = alice_client.post("/health/model/", form(ONLY_TRUST, action))
        assert response.status_code == 403
        assert "Only a CS manager can change the health model." in response.content.decode()
    assert table_rows() == before
    assert list(HealthModel.objects.values_list("version", flat=True)) == [1]


def test_with_a_worker_saving_queues_the_rescore_instead_of_running_it_in_the_request(
    book, maya_client, monkeypatch, settings, django_capture_on_commit_callbacks
):
    from cs_portal.celery import app
    from health import tasks
    from health.models import RecomputeRequest

    settings.RECOMPUTE_SETTLE_SECONDS = 4  # as with REDIS_URL set
    queued = []
    monkeypatch.setattr(
        tasks.relay_recompute_requests, "apply_async", lambda *a, **kw: queued.append(kw)
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = maya_client.post("/health/model/", form(ONLY_TRUST, "save"))
    finally:
        app.conf.task_always_eager = eager
    assert response.status_code == 302
    assert list(
        RecomputeRequest.objects.filter(reason__startswith="health model").values_list(
            "account_ids", "reason"
        )
    ) == [(None, "health model v2")]
    assert queued == [{"countdown": 4}]  # the relay, after the settle window
    # Nothing was rescored inside the request: yesterday's scores are still v1's.
    assert set(HealthSnapshot.objects.values_list("model__version", flat=True)) == {1}
    page = maya_client.get("/health/model/").content.decode()
    assert "the book is being rescored with it in the background" in page
