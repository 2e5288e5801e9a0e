"""The data-trust pages in Chromium, fed only through the import pipeline: a dataset whose last
three freshness observations breach its SLA reads "over SLA" on Datasets with the one account
that used it lately and that account's ARR; its freshness incident lists exactly that account
and draws the lag chart; a schema change imported with a date and a migration note shows the
note and the heads-up sent to that account."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import User
from cs_portal.imports import run_import
from datatrust.models import HeadsUp
from health.models import HealthSnapshot, Incident
from health.services import last_complete_day

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]

PASSWORD = "browser-pass-4"
LOGS = "ethereum.raw.logs"
TRACES = "ethereum.raw.traces"
LAGS = [6, 9, 22, 31, 46]  # minutes behind, every 10 minutes; the SLA is 15: the last 3 breach
NOTE = "Read topics[0] instead of topic0; the topic0-topic3 columns go away on that day."


def ok(result):
    assert result.ok, [e.as_dict() for e in result.errors]
    return result


def _day(d: date) -> str:
    """A date as the incident page writes it ("Dec 14, 2026")."""
    return f"{d:%b} {d.day}, {d.year}"


def _usage(account: str, dataset: str, days: list[date]) -> list[dict]:
    return [
        {
            "account": account,
            "date": d.isoformat(),
            "metric": "units",
            "value": 1000,
            "product": "developer",
            "chain": "ethereum",
            "dataset": dataset,
        }
        for d in days
    ]


def _book(today: date) -> None:
    """Two accounts: Northwind queried ethereum.raw.logs every day of the last two weeks;
    Harbor last touched it 40 days ago and works on ethereum.raw.traces now."""
    ok(
        run_import(
            "users",
            json_rows=[
                {"email": "maya@team.test", "role": "manager", "name": "Maya Lindqvist"},
                {"email": "alice@team.test", "role": "csm", "name": "Alice Chen"},
                {"email": "bob@team.test", "role": "csm", "name": "Bob Okafor"},
            ],
        )
    )
    ok(
        run_import(
            "accounts",
            json_rows=[
                {
                    "external_id": "northwind",
                    "name": "Northwind Payments",
                    "segment": "institution",
                    "tier": 1,
                    "csm": "alice@team.test",
                },
                {
                    "external_id": "harbor",
                    "name": "Harbor Ledger",
                    "segment": "institution",
                    "tier": 2,
                    "csm": "bob@team.test",
                },
            ],
        )
    )
    start, end = today - timedelta(days=100), today + timedelta(days=265)
    ok(
        run_import(
            "contracts",
            json_rows=[
                {
                    "account": account,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "arr": arr,
                    "plan": "developer",
                }
                for account, arr in (("northwind", 480000), ("harbor", 90000))
            ],
        )
    )
    ok(
        run_import(
            "datasets",
            json_rows=[
                {
                    "dataset": LOGS,
                    "chains": "ethereum",
                    "freshness_sla_minutes": 15,
                    "description": "Event logs",
                },
                {"dataset": TRACES, "chains": "ethereum", "freshness_sla_minutes": 20},
            ],
        )
    )
    recent = [today - timedelta(days=k) for k in range(1, 15)]
    ok(
        run_import(
            "usage",
            json_rows=_usage("northwind", LOGS, recent)
            + _usage("harbor", LOGS, [today - timedelta(days=40)])
            + _usage("harbor", TRACES, recent),
        )
    )
    first = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=70)
    ok(
        run_import(
            "freshness",
            json_rows=[
                {
                    "dataset": LOGS,
                    "observed_at": (first + timedelta(minutes=10 * n)).isoformat(),
                    "lag_minutes": lag,
                }
                for n, lag in enumerate(LAGS)
            ]
            + [{"dataset": TRACES, "observed_at": first.isoformat(), "lag_minutes": 8}],
        )
    )
    maya = User.objects.get(email="maya@team.test")
    maya.set_password(PASSWORD)
    maya.save()


def test_a_breached_sla_reaches_exactly_the_accounts_that_used_the_dataset(
    live_server, page, screenshot, settings
):
    settings.RECOMPUTE_SETTLE_SECONDS = 0  # score each import as it lands, worker or not
    today = datetime.now(UTC).date()
    _book(today)
    [incident] = Incident.objects.filter(auto=True)
    assert (incident.kind, incident.resolved, incident.severity) == ("freshness", None, "high")

    page.goto(f"{live_server.url}/datasets/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", "maya@team.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/datasets/")  # back where she was going

    # Datasets: one of two over its SLA; it reached one account and that account's ARR.
    expect(page.locator("h1")).to_have_text("Datasets")
    table = page.locator("[data-testid=datasets-table]")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.locator("[data-testid=over-count]")).to_have_text("1")
    logs = table.locator(f"tr[data-dataset='{LOGS}']")
    cells = logs.locator("td")
    expect(cells.nth(0)).to_contain_text(f"{LOGS} Edit")
    expect(cells.nth(0)).to_contain_text("Event logs")
    expect(cells.nth(2)).to_have_text("15 min")
    expect(cells.nth(3)).to_contain_text("46 min")
    expect(cells.nth(4)).to_have_text("over SLA")
    expect(cells.nth(5)).to_have_text("1 account $480,000 ARR", use_inner_text=True)
    expect(cells.nth(6)).to_have_text("Freshness high")
    traces = table.locator(f"tr[data-dataset='{TRACES}'] td")
    expect(traces.nth(4)).to_have_text("fresh")
    expect(traces.nth(5)).to_have_text("1 account $90,000 ARR", use_inner_text=True)
    expect(traces.nth(6)).to_have_text("none")
    screenshot("datasets-over-sla")

    # Through to the open freshness incident.
    cells.nth(6).get_by_role("link", name="Freshness").click()
    expect(page).to_have_url(f"{live_server.url}/incidents/{incident.key}/")
    expect(page.locator("h1")).to_have_text(f"{LOGS} 46 min behind (SLA 15 min)")
    expect(page.locator("[data-testid=status]")).to_have_text("open")
    expect(page.locator("[data-testid=severity]")).to_have_text("high")
    expect(page.locator("[data-testid=affected-count]")).to_have_text("1 · $480,000 ARR")
    affected = page.locator("[data-testid=affected-table] tbody tr")
    expect(affected).to_have_count(1)
    northwind = affected.first.locator("td")
    expect(northwind.nth(0)).to_have_text("Northwind Payments northwind", use_inner_text=True)
    expect(northwind.nth(1)).to_have_text("Tier 1 · strategic")
    expect(northwind.nth(2)).to_have_text("$480,000")
    expect(northwind.nth(3)).to_have_text("Alice Chen")
    # Its latest score carries the incident's override (health capped at yellow).
    snap = HealthSnapshot.objects.get(account__external_id="northwind", date=last_complete_day())
    assert "data_trust_incident" in {o["key"] for o in snap.overrides}
    assert snap.band == "yellow"
    expect(northwind.nth(4)).to_have_text(f"yellow · {snap.score}")
    expect(page.locator("main")).not_to_contain_text("Harbor Ledger")
    expect(page.locator("main")).not_to_contain_text("Bob Okafor")
    timeline = page.locator("[data-testid=timeline] .tl-kind")
    expect(timeline).to_have_text(
        ["Started", "Opened by the freshness monitor", f"Worst lag on {LOGS}: 46 min"]
    )
    expect(page.locator("[data-testid=timeline]")).to_contain_text(
        "3 of 5 observations shown were over the 15-minute SLA"
    )

    # The lag chart: Plotly drew it, titled, with one marker per observation and the SLA line.
    chart = page.locator("[data-testid=chart-lag-0]")
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(chart.locator(".gtitle")).to_have_text(
        f"{LOGS}: lag behind the chain tip vs its 15-minute SLA"
    )
    expect(chart.locator(".scatterlayer .trace").first.locator(".point")).to_have_count(5)
    expect(chart.locator(".legendtext")).to_have_text(["Lag (minutes)", "SLA (15 min)"])
    screenshot("incident-freshness")

    # A schema change on the same table, with its date and migration note.
    effective = today + timedelta(days=14)
    ok(
        run_import(
            "incidents",
            json_rows=[
                {
                    "key": "CHG-LOGS-TOPICS",
                    "kind": "schema_change",
                    "severity": "medium",
                    "started": today.isoformat(),
                    "datasets": LOGS,
                    "title": "ethereum.raw.logs: topics become one array column",
                    "effective": effective.isoformat(),
                    "note": NOTE,
                }
            ],
        )
    )
    [heads_up] = HeadsUp.objects.filter(incident__key="CHG-LOGS-TOPICS")
    assert heads_up.account.external_id == "northwind"
    assert heads_up.task.due == effective - timedelta(days=3)

    page.goto(f"{live_server.url}/incidents/CHG-LOGS-TOPICS/")
    expect(page.locator("h1")).to_have_text("ethereum.raw.logs: topics become one array column")
    expect(page.locator("[data-testid=effective]")).to_have_text(_day(effective))
    expect(page.locator("[data-testid=note]")).to_have_text(NOTE)
    expect(page.locator("h2", has_text="Accounts it touches")).to_have_text(
        "Accounts it touches · heads-ups sent: 1 task, 0 nudges"
    )
    affected = page.locator("[data-testid=affected-table] tbody tr")
    expect(affected).to_have_count(1)
    expect(affected.first.locator("td").first).to_have_text(
        "Northwind Payments northwind", use_inner_text=True
    )
    due = heads_up.task.due
    expect(affected.first.locator("[data-testid=heads-up]")).to_have_text(
        f"Task for Alice Chen due {due:%b} {due.day} · open", use_inner_text=True
    )
    expect(page.locator("main")).not_to_contain_text("Harbor Ledger")
    expect(page.locator("[data-testid=timeline] .tl-kind")).to_have_text(
        ["Announced", "Heads-up sent to 1 account", "Takes effect"]
    )
    expect(page.locator(".chart")).to_have_count(0)  # a schema change has no lag to draw
    screenshot("incident-schema-change")
