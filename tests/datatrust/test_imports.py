"""The `datasets` and `freshness` import kinds, and the schema-change columns of `incidents`:
good rows land, every bad row is reported with its row number, and a bad file writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cs_portal.imports import run_import
from datatrust.models import Dataset, FreshnessObservation
from health.models import Incident
from tests.datatrust.conftest import TODAY, errors, hours_ago, ok

pytestmark = pytest.mark.django_db

DATASETS_CSV = (
    "dataset,chains,freshness_sla_minutes,description\n"
    "ethereum.raw.logs,ethereum,15,Event logs\n"
    "crosschain.dex.trades,ethereum;Base;arbitrum,90,DEX swaps\n"
    "crosschain.lending.metrics_daily,,,Daily lending metrics\n"
)


# --- datasets ----------------------------------------------------------------------------------


def test_datasets_import_creates_the_catalogue_and_a_rerun_changes_nothing():
    result = ok(run_import("datasets", data=DATASETS_CSV))
    assert (result.stats.created, result.stats.updated) == (3, 0)
    trades = Dataset.objects.get(name="crosschain.dex.trades")
    assert (trades.chains, trades.freshness_sla_minutes, trades.description) == (
        ["arbitrum", "base", "ethereum"],
        90,
        "DEX swaps",
    )
    daily = Dataset.objects.get(name="crosschain.lending.metrics_daily")
    assert (daily.chains, daily.freshness_sla_minutes) == ([], None)

    again = ok(run_import("datasets", data=DATASETS_CSV))
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 3)


def test_a_column_left_out_leaves_that_field_alone():
    ok(run_import("datasets", data=DATASETS_CSV))
    # An "SLA only" file: chains and descriptions stay as they were.
    result = ok(
        run_import("datasets", data="dataset,freshness_sla_minutes\nethereum.raw.logs,10\n")
    )
    assert (result.stats.created, result.stats.updated) == (0, 1)
    logs = Dataset.objects.get(name="ethereum.raw.logs")
    assert (logs.chains, logs.freshness_sla_minutes, logs.description) == (
        ["ethereum"],
        10,
        "Event logs",
    )
    # An empty cell in a column the file has clears it (no SLA: never breaches).
    ok(run_import("datasets", data="dataset,freshness_sla_minutes\nethereum.raw.logs,\n"))
    assert Dataset.objects.get(name="ethereum.raw.logs").freshness_sla_minutes is None


def test_bad_dataset_rows_are_all_reported_and_nothing_is_written():
    csv = (
        "dataset,chains,freshness_sla_minutes,description\n"
        "ethereum.raw.logs,ethereum,15,fine\n"
        "stellar.raw.*,stellar,30,wildcard\n"
        "ethereum.logs,ethereum,30,two parts\n"
        "base.raw.blocks,base,0,zero SLA\n"
        "base.raw.logs,base,fifteen,words\n"
        "base.raw.traces,Base Chain,15,bad chain\n"
        ",base,15,no name\n"
        "ethereum.raw.logs,ethereum,20,again\n"
    )
    result = run_import("datasets", data=csv)
    assert errors(result) == [
        (3, "dataset", "'stellar.raw.*' is not one table (chain.schema.table, no wildcard)"),
        (4, "dataset", "'ethereum.logs' is not one table (chain.schema.table, no wildcard)"),
        (5, "freshness_sla_minutes", "0 is below the minimum of 1"),
        (6, "freshness_sla_minutes", "'fifteen' is not a whole number"),
        (7, "chains", "'Base Chain' is not a chain slug (like ethereum, base, solana)"),
        (8, "dataset", "required value is missing"),
        (
            9,
            "dataset",
            "duplicate of row 2 (ethereum.raw.logs); each key may appear once per import",
        ),
    ]
    assert not Dataset.objects.exists()


def test_an_sla_of_more_than_a_week_is_refused():
    result = run_import("datasets", data="dataset,freshness_sla_minutes\nethereum.raw.logs,10081\n")
    assert errors(result) == [(2, "freshness_sla_minutes", "10081 is above the maximum of 10080")]


# --- freshness ---------------------------------------------------------------------------------


def test_freshness_rows_land_naive_times_are_utc_and_a_rerun_changes_nothing(logs):
    at = hours_ago(2).replace(second=0)
    csv = (
        "dataset,observed_at,lag_minutes\n"
        f"ethereum.raw.logs,{at:%Y-%m-%dT%H:%M:%S},7.5\n"
        f"ethereum.raw.logs,{(at + timedelta(minutes=5)).isoformat()},8\n"
        f"ethereum.raw.logs,{(at + timedelta(minutes=10)):%Y-%m-%d %H:%M}Z,0\n"
    )
    result = ok(run_import("freshness", data=csv))
    assert result.stats.created == 3
    stored = list(
        FreshnessObservation.objects.order_by("observed_at").values_list(
            "observed_at", "lag_minutes"
        )
    )
    assert stored == [
        (at, 7.5),
        (at + timedelta(minutes=5), 8.0),
        (at + timedelta(minutes=10), 0.0),
    ]
    again = ok(run_import("freshness", data=csv))
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 3)
    # A corrected lag for the same moment updates the observation (dataset + observed_at).
    fixed = ok(run_import("freshness", data=csv.replace(",8\n", ",9\n")))
    assert (fixed.stats.created, fixed.stats.updated) == (0, 1)


def test_bad_freshness_rows_are_all_reported_and_nothing_is_written(logs):
    at = hours_ago(1).isoformat()
    future = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    csv = (
        "dataset,observed_at,lag_minutes\n"
        f"ethereum.raw.logs,{at},5\n"
        f"base.raw.logs,{at},5\n"
        "ethereum.raw.logs,yesterday at noon,5\n"
        f"ethereum.raw.logs,{TODAY.isoformat()},5\n"
        f"ethereum.raw.logs,{future.isoformat()},5\n"
        f"ethereum.raw.logs,{hours_ago(3).isoformat()},-2\n"
        f"ethereum.raw.logs,{hours_ago(4).isoformat()},soon\n"
        f"ethereum.raw.logs,{hours_ago(5).isoformat()},nan\n"
        f"ethereum.raw.logs,{at},6\n"
    )
    result = run_import("freshness", data=csv)
    assert errors(result) == [
        (
            3,
            "dataset",
            "unknown dataset 'base.raw.logs'; add it to the catalogue first (import kind datasets)",
        ),
        (
            4,
            "observed_at",
            "'yesterday at noon' is not an ISO datetime (like 2026-08-19T14:05:00Z)",
        ),
        (
            5,
            "observed_at",
            f"'{TODAY.isoformat()}' has no time of day; give an ISO datetime like "
            f"{TODAY.isoformat()}T14:05:00Z",
        ),
        (
            6,
            "observed_at",
            f"{future:%Y-%m-%d %H:%M} UTC is in the future; observations are measured",
        ),
        (7, "lag_minutes", "-2 is negative; a lag cannot be below zero minutes"),
        (8, "lag_minutes", "'soon' is not a number of minutes"),
        (9, "lag_minutes", "'nan' is not a finite number"),
        (
            10,
            "dataset,observed_at",
            f"duplicate of row 2 (ethereum.raw.logs, {datetime.fromisoformat(at)}); each key "
            "may appear once per import",
        ),
    ]
    assert not FreshnessObservation.objects.exists()


def test_freshness_needs_its_required_columns():
    result = run_import("freshness", data="dataset,lag_minutes\nethereum.raw.logs,5\n")
    assert errors(result) == [(1, "observed_at", "required column is missing from the header")]


def test_the_platform_pushes_freshness_through_the_import_endpoint(client, maya_token, logs):
    at = hours_ago(1).isoformat()
    response = client.post(
        "/api/v1/import/freshness",
        data={"rows": [{"dataset": "ethereum.raw.logs", "observed_at": at, "lag_minutes": 6}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {maya_token}"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 1
    bad = client.post(
        "/api/v1/import/freshness",
        data={"rows": [{"dataset": "nope.raw.logs", "observed_at": at, "lag_minutes": 6}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {maya_token}"},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["column"] == "dataset"
    assert FreshnessObservation.objects.count() == 1


# --- incidents: effective and note ---------------------------------------------------------------

INCIDENTS_HEADER = "key,kind,severity,started,resolved,datasets,chains,title,effective,note"


def test_a_schema_change_takes_an_effective_date_and_a_migration_note():
    csv = (
        f"{INCIDENTS_HEADER}\n"
        "CHG-1,schema_change,medium,2026-08-01,,sui.raw.transactions;sui.raw.checkpoints,sui,"
        'Sui JSON-RPC to gRPC,2026-08-19,"Nested JSON changes shape; see the guide."\n'
        "INC-1,accuracy,high,2026-08-02,,base.raw.logs,,Base logs,,\n"
    )
    result = ok(run_import("incidents", data=csv))
    assert result.stats.created == 2
    change = Incident.objects.get(key="CHG-1")
    assert (change.effective.isoformat(), change.note) == (
        "2026-08-19",
        "Nested JSON changes shape; see the guide.",
    )
    assert change.datasets == ["sui.raw.checkpoints", "sui.raw.transactions"]
    # The old columns alone still work, and leave effective and note alone.
    ok(
        run_import(
            "incidents",
            data="key,kind,severity,started,title\n"
            "CHG-1,schema_change,high,2026-08-01,Sui JSON-RPC → gRPC\n",
        )
    )
    change.refresh_from_db()
    assert (change.severity, change.title, change.effective.isoformat()) == (
        "high",
        "Sui JSON-RPC → gRPC",
        "2026-08-19",
    )
    assert change.note == "Nested JSON changes shape; see the guide."


def test_effective_or_note_on_another_kind_is_a_row_error():
    csv = (
        f"{INCIDENTS_HEADER}\n"
        "INC-1,freshness,high,2026-08-02,,base.raw.logs,,Late,2026-08-19,\n"
        "INC-2,outage,high,2026-08-02,,base.raw.logs,,Down,,Use the other table\n"
        "CHG-2,schema_change,low,2026-08-02,,stellar.raw.*,,Horizon to RPC,someday,\n"
    )
    result = run_import("incidents", data=csv)
    assert errors(result) == [
        (
            2,
            "effective",
            "only schema_change incidents take effective (this one is freshness); leave it empty",
        ),
        (
            3,
            "note",
            "only schema_change incidents take note (this one is outage); leave it empty",
        ),
        (4, "effective", "'someday' is not a date in YYYY-MM-DD form"),
    ]
    assert not Incident.objects.exists()
