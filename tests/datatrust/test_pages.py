"""The datasets and incidents pages: what they show, who may edit the catalogue, and bad query
strings answered with a message, never a 500."""

from __future__ import annotations

import html
import json
import re

import pytest

from cs_portal.imports import run_import
from datatrust.models import Dataset
from tests.conftest import table_rows
from tests.datatrust.conftest import YESTERDAY, ok, usage_rows, use
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's visible text, whitespace collapsed (for asserting what a user reads)."""
    page = response.content.decode()
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


# --- datasets --------------------------------------------------------------------------------


def test_the_datasets_page_lists_sla_lag_status_reach_and_open_incidents(alice_client, world):
    response = alice_client.get("/datasets/")
    assert response.status_code == 200
    page = text(response)
    assert re.search(
        r"ethereum\.raw\.logs Event logs ethereum 15 min 47 min .*? over SLA "
        r"2 accounts \$350,000 ARR Freshness high",
        page,
    ), page
    assert f'href="/incidents/{world.key}/"' in response.content.decode()
    assert re.search(
        r"ethereum\.raw\.traces ethereum 20 min 8 min .*? fresh 1 account \$250,000 ARR Schema",
        page,
    )
    assert (
        "crosschain.lending.metrics_daily base ethereum none — no observations 0 accounts $0 ARR "
        "none"
    ) in page
    assert "Add a dataset" not in page and "/edit/" not in response.content.decode()
    assert "Edit" not in page


def test_the_datasets_page_says_what_to_do_when_empty(alice_client):
    page = text(alice_client.get("/datasets/"))
    assert "No datasets yet" in page
    assert "Import a datasets file on Imports" in page


def test_a_manager_adds_a_dataset_and_edits_its_sla(maya_client, maya):
    response = maya_client.post(
        "/datasets/new/",
        {
            "name": "Solana.Raw.Transactions",
            "chains": "solana",
            "freshness_sla_minutes": "30",
            "description": "Solana transactions",
        },
    )
    assert response.status_code == 302
    dataset = Dataset.objects.get(name="solana.raw.transactions")
    assert (dataset.chains, dataset.freshness_sla_minutes, dataset.updated_by) == (
        ["solana"],
        30,
        maya,
    )
    response = maya_client.post(
        "/datasets/solana.raw.transactions/edit/",
        {"name": "ignored.is.this", "chains": "solana, ethereum", "freshness_sla_minutes": ""},
    )
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.name, dataset.chains, dataset.freshness_sla_minutes) == (
        "solana.raw.transactions",
        ["ethereum", "solana"],
        None,
    )
    assert "Edit" in text(maya_client.get("/datasets/"))


def test_bad_dataset_form_values_are_shown_and_nothing_is_saved(maya_client):
    response = maya_client.post(
        "/datasets/new/",
        {"name": "stellar.raw.*", "chains": "Base Chain", "freshness_sla_minutes": "0"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "'stellar.raw.*' is not one table (chain.schema.table, no wildcard)" in page
    assert "not chain slugs: Base Chain" in page
    assert "Ensure this value is greater than or equal to 1." in page
    assert not Dataset.objects.exists()


def test_a_csm_cannot_change_the_catalogue(alice_client, world):
    before = table_rows()
    assert alice_client.get("/datasets/new/").status_code == 403
    response = alice_client.post(
        "/datasets/ethereum.raw.logs/edit/", {"freshness_sla_minutes": "999"}
    )
    assert response.status_code == 403
    assert table_rows() == before


def test_editing_an_unknown_dataset_is_404(maya_client):
    assert maya_client.get("/datasets/nope.raw.logs/edit/").status_code == 404


# --- incidents -------------------------------------------------------------------------------


def test_the_incidents_page_lists_newest_first_with_reach_and_arr(alice_client, world):
    response = alice_client.get("/incidents/")
    assert response.status_code == 200
    page = text(response)
    keys = re.findall(r'data-key="([^"]+)"', response.content.decode())
    assert keys == [world.key, "CHG-TRACES", "INC-OLD"]
    assert re.search(
        r"ethereum\.raw\.logs 47 min behind \(SLA 15 min\) .*? Freshness high ethereum\.raw\.logs"
        r" .*? open 2 \$350,000",
        page,
    ), page
    # Matched by chain (it lists no datasets): Initech works on Base today, with no contract.
    assert re.search(r"Base outage INC-OLD Outage low base .*? resolved .*? 1 \$0", page)


def test_incidents_filter_by_status_and_kind(alice_client, world):
    response = alice_client.get("/incidents/?status=resolved")
    assert re.findall(r'data-key="([^"]+)"', response.content.decode()) == ["INC-OLD"]
    response = alice_client.get("/incidents/?status=open&kind=schema_change")
    assert re.findall(r'data-key="([^"]+)"', response.content.decode()) == ["CHG-TRACES"]
    fragment = alice_client.get("/incidents/?kind=freshness", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert 'data-key="' + world.key + '"' in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]
    none = text(alice_client.get("/incidents/?kind=accuracy"))
    assert "No incident matches these filters. Show all 3 ." in none


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=closed", "status must be one of open, resolved, not 'closed'"),
        ("kind=meteor", "kind must be one of freshness, accuracy, outage, schema_change"),
        ("page=0", "page must be a positive whole number, not '0'"),
        ("page=%C2%B2", "page must be a positive whole number"),
        ("page=99999999999999999999", "page must be a positive whole number"),
        ("status=%00", "status: contains a NUL character (0x00); remove it"),
    ],
)
def test_bad_incident_filters_say_what_is_wrong(alice_client, world, query, message):
    response = alice_client.get(f"/incidents/?{query}")
    assert response.status_code == 400
    assert message in text(response)


def test_the_incidents_page_says_what_to_do_when_empty(alice_client):
    page = text(alice_client.get("/incidents/"))
    assert "No incidents yet" in page
    assert "Import an incidents file on Imports" in page


def test_a_freshness_incident_page_shows_reach_timeline_and_the_lag_chart(alice_client, world):
    response = alice_client.get(f"/incidents/{world.key}/")
    assert response.status_code == 200
    page = text(response)
    assert "ethereum.raw.logs 47 min behind (SLA 15 min)" in page
    assert "open Freshness high opened by the freshness monitor" in page
    # Biggest ARR first, with tier, CSM and what they used.
    assert re.search(
        r"Globex Capital globex Tier 1 · strategic \$250,000 Bob Baker not scored "
        r"Acme Analytics acme Tier 2 · scaled \$100,000 Alice Archer not scored Timeline",
        page,
    ), page
    assert 'href="/accounts/globex/"' in response.content.decode()
    assert "Started" in page and "Opened by the freshness monitor" in page
    assert "Worst lag on ethereum.raw.logs: 47 min" in page
    figure = json.loads(
        re.search(
            r'<script id="fig-lag-0" type="application/json">(.*?)</script>',
            response.content.decode(),
            re.S,
        ).group(1)
    )
    assert figure["data"][0]["y"] == [9, 31, 40, 47]
    assert figure["data"][1]["y"] == [15, 15]
    assert figure["layout"]["title"]["text"] == (
        "ethereum.raw.logs: lag behind the chain tip vs its 15-minute SLA"
    )
    assert figure["layout"]["yaxis"]["title"]["text"] == "Lag (minutes)"


def test_a_schema_change_page_shows_the_note_and_the_heads_ups(alice_client, world, bob):
    response = alice_client.get("/incidents/CHG-TRACES/")
    page = text(response)
    assert "Use the array form." in page
    assert "A schema change caps nobody's health" in page
    assert "Heads-up sent to 1 account" in page
    assert "heads-ups sent: 1 task, 0 nudges" in page
    assert re.search(
        r"Globex Capital globex .*? not scored Task for Bob Baker due \w+ \d+ · open",
        page,
    ), page
    assert 'id="fig-' not in response.content.decode()


def test_an_incident_nobody_used_says_so(alice_client, db):
    row = {"key": "INC-P", "kind": "accuracy", "severity": "low", "started": "2026-01-05"}
    ok(run_import("incidents", json_rows=[{**row, "datasets": "polygon.raw.blocks"}]))
    page = text(alice_client.get("/incidents/INC-P/"))
    assert "Accounts touched 0 · $0 ARR" in page
    assert "No account used these datasets in that window, so nobody's health is capped" in page


def test_unknown_incident_is_404(alice_client, db):
    assert alice_client.get("/incidents/NOPE/").status_code == 404
    assert alice_client.get("/incidents/%00/").status_code == 404


def test_the_nav_links_both_pages(alice_client, db):
    html = alice_client.get("/datasets/").content.decode()
    assert '<a href="/datasets/" aria-current="page">Datasets</a>' in html
    assert '<a href="/incidents/" >Incidents</a>' in html


def test_a_wildcard_incident_page_names_the_tables_each_account_used(alice_client, db):
    AccountFactory(external_id="horizon", name="Horizon Pay", tier=2)
    use(usage_rows("horizon", "stellar.raw.transactions", [YESTERDAY]))
    row = {"key": "INC-XLM", "kind": "outage", "severity": "high"}
    ok(
        run_import(
            "incidents",
            json_rows=[{**row, "started": YESTERDAY.isoformat(), "datasets": "stellar.raw.*"}],
        )
    )
    page = text(alice_client.get("/incidents/INC-XLM/"))
    assert re.search(
        r"Horizon Pay horizon .*? Used .*?|Horizon Pay .*? stellar\.raw\.transactions", page
    )
    assert "Health Used" in page


def test_the_pages_cost_a_fixed_number_of_queries(alice_client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get(path).status_code == 200
        return len(ctx.captured_queries)

    before = (cost("/datasets/"), cost("/incidents/"))
    for n in range(6):
        AccountFactory(external_id=f"more-{n}", tier=2)
        use(usage_rows(f"more-{n}", "ethereum.raw.logs", [YESTERDAY]))
        row = {"key": f"INC-{n}", "kind": "outage", "severity": "low", "title": f"Outage {n}"}
        ok(
            run_import(
                "incidents",
                json_rows=[
                    {**row, "started": YESTERDAY.isoformat(), "datasets": "ethereum.raw.logs"}
                ],
            )
        )
    ok(run_import("datasets", json_rows=[{"dataset": f"base.raw.t{n}"} for n in range(6)]))
    assert (cost("/datasets/"), cost("/incidents/")) == before
