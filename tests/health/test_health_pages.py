"""The Health tab of an account and the health model page, as a CSM and a manager see them."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils.html import escape

from accounts.models import ContactRole
from cs_portal.imports import run_import
from health.models import HealthSnapshot
from health.services import health_model_create, health_recompute
from tests.conftest import usage_landed
from tests.factories import AccountFactory, ContactFactory, ContractFactory

END = date(2026, 3, 31)
SCRIPT = re.compile(r'<script id="fig-([a-z_]+)" type="application/json">(.*?)</script>', re.S)


pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.fixture
def scored(acme):
    """Acme on a commit, its usage collapsed for 7 days and its champion gone: two overrides."""
    ContractFactory(
        account=acme, start=date(2026, 1, 1), end=date(2026, 12, 31), commit_units=Decimal("365000")
    )
    ContactFactory(
        account=acme, role=ContactRole.CHAMPION, name="Dana Reyes", left=date(2026, 3, 10)
    )
    rows = []
    for n in range(60):
        day = (END - timedelta(days=n)).isoformat()
        units = 100 if n < 7 else 1000
        rows += [
            {
                "account": "acme",
                "date": day,
                "metric": "units",
                "value": units,
                "product": "explorer",
                "chain": "ethereum",
            },
            {"account": "acme", "date": day, "metric": "queries", "value": 50},
            {"account": "acme", "date": day, "metric": "active_users", "value": 3},
        ]
    assert run_import("usage", json_rows=rows).ok
    for day in (END - timedelta(days=2), END - timedelta(days=1), END):
        health_recompute(as_of=day)
    return HealthSnapshot.objects.get(account=acme, date=END)


def figures(html: str) -> dict[str, dict]:
    return {key: json.loads(body) for key, body in SCRIPT.findall(html)}


def signal_row(html: str, key: str) -> str:
    match = re.search(rf'<tr class="[a-z]*" data-signal="{key}">(.*?)</tr>', html, re.S)
    assert match, f"no breakdown row for {key}"
    return match.group(1)


# --- the Health tab --------------------------------------------------------------------------


def test_health_tab_shows_score_band_overrides_and_breakdown(alice_client, scored):
    response = alice_client.get("/accounts/acme/health/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="score">{scored.score}</div>' in html
    assert scored.score <= 39
    assert 'data-testid="band">Red</span>' in html
    assert "As of Mar 31, 2026 · model v1" in html
    assert [o["key"] for o in scored.overrides] == ["sharp_drop", "champion_left"]
    for override in scored.overrides:
        assert f'data-testid="override-{override["key"]}"' in html
        assert (
            f"<strong>{override['key']}</strong> → at most {override['cap_band']}: "
            f"{escape(override['detail'])}"
        ) in html
    assert "champion Dana Reyes has left and nobody has replaced them" in html


def test_breakdown_has_a_row_per_signal_and_says_why_a_signal_did_not_apply(alice_client, scored):
    html = alice_client.get("/accounts/acme/health/").content.decode()
    signals = {s["key"]: s for s in scored.signals}

    assert re.findall(r'data-signal="([a-z_]+)"', html) == list(signals)
    not_applying = [k for k, s in signals.items() if not s["applies"]]
    assert not_applying == ["active_users", "sentiment", "onboarding"]
    for key in not_applying:
        row = signal_row(html, key)
        assert '<span class="pill">no</span>' in row
        assert escape(signals[key]["reason"]) in row
    assert "no seat count on the account" in signal_row(html, "active_users")
    # Acme is tier 2, so cadence applies: never touched scores 0.
    assert "never touched" in signal_row(html, "touch_cadence")
    assert "tier 3 has no named CSM" not in html
    assert "no NPS or CSAT response in the last year" in signal_row(html, "sentiment")
    trend = signal_row(html, "usage_trend")
    assert '<span class="pill pill-green">yes</span>' in trend
    assert escape(signals["usage_trend"]["value"]) in trend
    assert "(3 signals did not apply; the other weights were renormalised to 100)" in html


def test_health_tab_ships_chart_json_for_each_figure(alice_client, scored):
    html = alice_client.get("/accounts/acme/health/").content.decode()
    figs = figures(html)

    assert list(figs) == ["trend", "units_product", "units_chain", "queries", "users", "burn_up"]
    for key in figs:
        assert f'<div id="chart-{key}" class="chart" data-testid="chart-{key}"></div>' in html
    trend = figs["trend"]["data"][0]
    history = HealthSnapshot.objects.filter(account=scored.account).order_by("date")
    assert trend["x"] == [s.date.isoformat() for s in history]
    assert trend["y"] == [s.score for s in history]
    queries = figs["queries"]["data"][0]
    assert len(queries["x"]) == 90  # the last 90 days, zero-filled before usage began
    assert queries["y"][-60:] == [50.0] * 60


def test_as_of_shows_that_days_snapshot(alice_client, scored):
    earlier = HealthSnapshot.objects.get(account=scored.account, date=END - timedelta(days=2))
    html = alice_client.get("/accounts/acme/health/?as_of=2026-03-29").content.decode()
    assert f'data-testid="score">{earlier.score}</div>' in html
    assert "As of Mar 29, 2026" in html
    assert 'data-testid="override-sharp_drop"' not in html  # only 5 low days by then


def test_garbage_as_of_is_400_with_the_message_and_never_500(alice_client, scored):
    response = alice_client.get("/accounts/acme/health/?as_of=garbage")
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        escape("as_of must be a date in YYYY-MM-DD form, not 'garbage'")
        + ". Showing the latest score instead."
    ) in html
    assert f'data-testid="score">{scored.score}</div>' in html


def test_as_of_without_a_snapshot_says_so(alice_client, scored):
    response = alice_client.get("/accounts/acme/health/?as_of=2026-01-15")
    assert response.status_code == 200
    assert "No health score for" in response.content.decode()


def test_account_without_a_snapshot_tells_the_user_to_import_usage(alice_client, acme):
    usage_landed(END)  # the book has usage; this account has not been scored yet
    response = alice_client.get("/accounts/acme/health/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No health score yet" in html
    assert "Import daily usage for this account" in html
    assert "python manage.py recompute_health --account acme" in html
    assert figures(html) == {}


def test_health_tab_is_readable_by_a_csm_who_does_not_own_the_account(bob_client, scored):
    assert bob_client.get("/accounts/acme/health/").status_code == 200


def test_health_tab_of_an_unknown_account_is_404(alice_client, db):
    assert alice_client.get("/accounts/nope/health/").status_code == 404


def test_health_tab_needs_a_login(client, scored):
    response = client.get("/accounts/acme/health/")
    assert response.status_code == 302
    assert "/accounts/acme/health/" in response["Location"]


def test_tier_3_reason_is_shown_for_touch_cadence(alice_client, db):
    AccountFactory(external_id="digital", tier=3)
    usage_landed(END)
    health_recompute(as_of=END)
    html = alice_client.get("/accounts/digital/health/").content.decode()
    assert "tier 3 has no named CSM; automation carries the touch" in signal_row(
        html, "touch_cadence"
    )


# --- the model page --------------------------------------------------------------------------


def test_model_page_shows_the_current_version_and_history(maya_client, maya):
    html = maya_client.get("/health/model/").content.decode()
    assert "Version 1 → edit to create v2" in html
    assert "<td>v1</td>" in html
    assert "Default model" in html

    health_model_create(
        weights={"usage_trend": 60, "commit_pace": 40},
        green_min=70,
        yellow_min=40,
        note="Usage-led",
        created_by=maya,
    )
    html = maya_client.get("/health/model/").content.decode()
    assert "Version 2 → edit to create v3" in html
    assert re.search(r"<td>v2</td><td>[^<]+</td><td>Maya Manager</td><td>Usage-led</td>", html)
    assert re.search(r"<td>v1</td><td>[^<]+</td><td>system</td><td>Default model</td>", html)
    assert html.index("<td>v2</td>") < html.index("<td>v1</td>")
    assert 'name="w_usage_trend" value="60"' in html


def test_model_page_is_read_only_for_a_csm(alice_client, db):
    response = alice_client.get("/health/model/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Only CS managers change the model." in html
    assert 'name="w_usage_trend" value="34" inputmode="decimal" disabled' in html
    assert 'value="save"' not in html


def test_before_any_usage_lands_the_health_tab_says_awaiting_usage(alice_client, acme):
    html = alice_client.get("/accounts/acme/health/").content.decode()
    assert 'data-testid="awaiting-usage"' in html
    assert "No usage has landed for the book yet" in html


def test_a_score_from_before_the_days_usage_landed_says_so(alice_client, acme):
    day = END - timedelta(days=1)
    rows = [
        {
            "account": "acme",
            "date": (day - timedelta(days=n)).isoformat(),
            "metric": "units",
            "value": "500",
        }
        for n in range(30)
    ]
    assert run_import("usage", json_rows=rows).ok
    health_recompute(as_of=END)
    html = alice_client.get("/accounts/acme/health/").content.decode()
    assert f"Usage through {day.isoformat()}: the usage for" in html
    assert "has not landed yet, so it is not counted as zero" in html
