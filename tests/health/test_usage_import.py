"""The `usage` and `incidents` import kinds: every bad row named, all-or-nothing, idempotent.

CSV is passed as bytes, as the API and the upload page do: on PostgreSQL that goes through
COPY → staging → set-based validation → upsert; on SQLite (and for JSON rows) the row path.
Both must report the same row numbers and columns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from accounts.models import Account
from cs_portal.imports import run_import
from cs_portal.models import ImportRun
from health import tasks, usage_store
from health.models import HealthSnapshot, Incident, UsageFact
from health.services import health_recompute
from tests.conftest import table_rows
from tests.factories import AccountFactory

HEADER = "account,date,metric,value,product,chain,dataset,reason"
GOOD = {
    "account": "acme",
    "date": "2026-03-01",
    "metric": "units",
    "value": "100",
    "product": "",
    "chain": "",
    "dataset": "",
    "reason": "",
}
KEY_COLUMNS = "account,date,metric,product,chain,dataset,reason"
METRICS = "queries, units, api_calls, stream_events, active_users, failed_queries"


pytestmark = pytest.mark.usefixtures("eager_celery")


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def to_csv(rows: list[dict]) -> bytes:
    lines = [HEADER] + [",".join(str(r.get(c, "")) for c in HEADER.split(",")) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def run(fmt: str, rows: list[dict]):
    if fmt == "csv":
        return run_import("usage", data=to_csv(rows))
    return run_import("usage", json_rows=[{k: v for k, v in r.items() if v != ""} for r in rows])


def errors(result) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in result.errors]


@pytest.fixture
def existing(acme):
    """Facts and a snapshot already in the database, which a rejected import must not touch."""
    ok = run_import(
        "usage",
        json_rows=[
            {"account": "acme", "date": "2026-02-01", "metric": "units", "value": 50},
            {"account": "acme", "date": "2026-02-02", "metric": "units", "value": 60},
        ],
    )
    assert ok.ok
    health_recompute(as_of=date(2026, 2, 2))
    assert (UsageFact.objects.count(), HealthSnapshot.objects.count()) == (2, 1)
    return acme


# --- bad input -------------------------------------------------------------------------------

# name, the bad second row, its column, what the message must say
BAD_ROWS = [
    ("unknown account", {"account": "nope"}, "account", "unknown account 'nope'; import it first"),
    ("unknown metric", {"metric": "logins"}, "metric", f"'logins' is not one of: {METRICS}"),
    (
        "date format",
        {"date": "03/02/2026"},
        "date",
        "'03/02/2026' is not a date in YYYY-MM-DD form",
    ),
    ("impossible date", {"date": "2026-02-30"}, "date", "'2026-02-30' is not a"),
    ("negative value", {"value": "-5"}, "value", "-5 is negative; usage cannot be below zero"),
    ("non-numeric value", {"value": "lots"}, "value", "'lots' is not a number"),
    (
        "unknown product",
        {"product": "enterprise"},
        "product",
        "'enterprise' is not one of: explorer, developer, datastreams, credits",
    ),
    (
        "unknown reason",
        {"metric": "failed_queries", "reason": "gremlins"},
        "reason",
        "'gremlins' is not one of: chain_not_covered, dataset_not_found, timeout, syntax",
    ),
    ("reason on units", {"reason": "timeout"}, "reason", "only failed_queries rows carry a reason"),
    ("duplicate key", {}, KEY_COLUMNS, "duplicate of row"),
]


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    ("bad", "column", "message"),
    [case[1:] for case in BAD_ROWS],
    ids=[case[0] for case in BAD_ROWS],
)
def test_a_bad_row_rejects_the_whole_import(
    existing, django_capture_on_commit_callbacks, fmt, bad, column, message
):
    before = table_rows()
    snapshots = HealthSnapshot.objects.count()

    # The bad row is for another day, so only its own problem is reported (except the
    # duplicate case, whose "bad" is repeating the first row's key).
    bad_row = {**GOOD, "date": "2026-03-02", **bad} if bad else GOOD
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = run(fmt, [GOOD, bad_row])

    line = 3 if fmt == "csv" else 2  # CSV: spreadsheet line (header is 1); JSON: index
    assert result.ok is False
    assert errors(result) == [(line, column)]
    assert message in result.errors[0].message
    assert (result.stats.created, result.stats.updated) == (0, 0)
    # Nothing written, nothing rescored: the good first row is not written either.
    assert callbacks == []
    assert UsageFact.objects.count() == 2
    assert HealthSnapshot.objects.count() == snapshots
    assert table_rows() == before
    run_row = ImportRun.objects.get(pk=result.run_id)
    assert (run_row.status, run_row.error_count) == (ImportRun.Status.REJECTED, 1)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_duplicate_names_the_first_row(existing, fmt):
    result = run(fmt, [GOOD, {**GOOD, "date": "2026-03-02"}, {**GOOD, "value": "7"}])
    first, dup = (2, 4) if fmt == "csv" else (1, 3)
    assert errors(result) == [(dup, KEY_COLUMNS)]
    assert result.errors[0].message.startswith(f"duplicate of row {first}")
    assert "None" not in result.errors[0].message  # blank dimensions are left out, not "None"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_duplicate_of_a_stored_row_with_the_same_value_is_still_reported(existing, fmt):
    stored = {**GOOD, "date": "2026-02-01", "value": "50"}  # identical to a stored fact
    result = run(fmt, [stored, stored])
    assert result.ok is False
    assert errors(result) == [(3 if fmt == "csv" else 2, KEY_COLUMNS)]
    assert UsageFact.objects.count() == 2


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_every_bad_row_is_reported_in_one_pass(existing, fmt):
    rows = [
        GOOD,
        {**GOOD, "account": "nope", "date": "2026-03-02"},
        {**GOOD, "date": "2026-03-03", "value": "-1"},
        {**GOOD, "date": "2026-03-04", "metric": "logins"},
    ]
    result = run(fmt, rows)
    offset = 1 if fmt == "csv" else 0
    assert errors(result) == [
        (3 + offset - 1, "account"),
        (4 + offset - 1, "value"),
        (5 + offset - 1, "metric"),
    ]
    assert UsageFact.objects.count() == 2


def test_missing_required_column_in_csv_is_reported_on_the_header(existing):
    before = table_rows()
    result = run_import("usage", data=b"account,date,metric\nacme,2026-03-01,units\n")
    assert errors(result) == [(1, "value")]
    assert result.errors[0].message == "required column is missing from the header"
    assert table_rows() == before


def test_missing_required_value_in_json_is_reported_on_the_row(existing):
    before = table_rows()
    result = run_import(
        "usage",
        json_rows=[
            {"account": "acme", "date": "2026-03-01", "metric": "units", "value": 1},
            {"account": "acme", "date": "2026-03-02", "metric": "units"},
        ],
    )
    assert errors(result) == [(2, "value")]
    assert result.errors[0].message == "required value is missing"
    assert table_rows() == before


@pytest.mark.parametrize(
    ("data", "row", "message"),
    [
        (b"", 1, "the file is empty; it needs a header row and at least one row"),
        (b"\n\n", 1, "the file is empty; it needs a header row and at least one row"),
        (f"{HEADER}\n".encode(), 1, "the file has a header but no rows"),
    ],
)
def test_empty_csv_is_rejected(existing, data, row, message):
    before = table_rows()
    result = run_import("usage", data=data)
    assert [(e.row, e.column, e.message) for e in result.errors] == [(row, "", message)]
    assert table_rows() == before


def test_empty_json_rows_are_rejected(existing):
    result = run_import("usage", json_rows=[])
    assert [(e.row, e.message) for e in result.errors] == [
        (0, 'expected {"rows": [...]} with at least one row')
    ]
    assert UsageFact.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL-only")
def test_on_postgresql_a_usage_csv_goes_through_copy(acme, monkeypatch):
    taken = []
    real = usage_store.usage_copy_import

    def spy(*args, **kwargs):
        taken.append(real(*args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(usage_store, "usage_copy_import", spy)
    assert run_import("usage", data=to_csv([GOOD])).ok
    assert run_import("usage", data=to_csv([{**GOOD, "value": "-1"}])).ok is False
    assert taken == [True, True]


# --- idempotence -----------------------------------------------------------------------------


def _month(account: str = "acme") -> list[dict]:
    return [
        {
            **GOOD,
            "account": account,
            "date": f"2026-03-{d:02d}",
            "value": str(d * 10),
            "product": "explorer",
            "chain": "ethereum",
            "dataset": "ethereum.core.transactions",
        }
        for d in range(1, 11)
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_reimport_is_idempotent_and_one_changed_value_updates_one_row(acme, fmt):
    rows = _month()
    first = run(fmt, rows)
    assert (first.stats.created, first.stats.updated, first.stats.unchanged) == (10, 0, 0)

    again = run(fmt, rows)
    assert again.ok
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 10)
    assert UsageFact.objects.count() == 10

    rows[4] = {**rows[4], "value": "999"}
    changed = run(fmt, rows)
    assert (changed.stats.created, changed.stats.updated, changed.stats.unchanged) == (0, 1, 9)
    assert UsageFact.objects.get(date=date(2026, 3, 5)).value == 999.0
    assert sorted(UsageFact.objects.values_list("value", flat=True)) == sorted(
        [10.0, 20.0, 30.0, 40.0, 60.0, 70.0, 80.0, 90.0, 100.0, 999.0]
    )


def test_csv_and_json_write_the_same_facts(acme):
    assert run("csv", _month()).ok
    csv_facts = list(
        UsageFact.objects.order_by("date").values_list(
            "date", "metric", "product", "chain", "dataset", "reason", "value"
        )
    )
    again = run("json", _month())
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 10)
    assert csv_facts[0] == (
        date(2026, 3, 1),
        "units",
        "explorer",
        "ethereum",
        "ethereum.core.transactions",
        "",
        10.0,
    )


# --- recompute after import ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_new_day_rescores_the_book_and_a_correction_only_the_accounts_it_touched(
    acme, django_capture_on_commit_callbacks, monkeypatch, fmt
):
    globex = AccountFactory(external_id="globex")
    initech = AccountFactory(external_id="initech")
    relays = []
    real_delay = tasks.relay_recompute_requests.delay
    monkeypatch.setattr(
        tasks.relay_recompute_requests,
        "delay",
        lambda *a, **kw: relays.append(a) or real_delay(*a, **kw),
    )
    day = yesterday_utc()
    rows = [
        {**GOOD, "account": who, "date": (day - timedelta(days=n)).isoformat(), "value": "100"}
        for who in ("acme", "globex")
        for n in range(5)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        result = run(fmt, rows)

    assert result.ok
    assert len(relays) == 1  # one rescore per import, not per row
    # Yesterday's usage has landed for the book: initech, with none, is scored too (as zero).
    scored = set(HealthSnapshot.objects.values_list("account__external_id", "date"))
    assert scored == {("acme", day), ("globex", day), ("initech", day)}
    assert HealthSnapshot.objects.get(account=initech).facts["consumed"] == 0

    HealthSnapshot.objects.all().delete()
    correction = [{**GOOD, "account": "acme", "date": day.isoformat(), "value": "250"}]
    with django_capture_on_commit_callbacks(execute=True):
        assert run(fmt, correction).ok
    assert len(relays) == 2
    assert list(HealthSnapshot.objects.values_list("account__external_id", flat=True)) == ["acme"]
    assert not HealthSnapshot.objects.filter(account=globex).exists()


def test_nothing_is_scored_before_any_usage_has_landed(acme, django_capture_on_commit_callbacks):
    """Contracts before usage: no account is scored as if it had stopped using the product."""
    from tests.factories import ContractFactory

    ContractFactory(account=acme, start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert health_recompute() == 0
    assert HealthSnapshot.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert run("json", [{**GOOD, "date": yesterday_utc().isoformat()}]).ok
    assert HealthSnapshot.objects.filter(account=acme, date=yesterday_utc()).exists()


def test_usage_is_judged_through_the_newest_landed_day(acme, django_capture_on_commit_callbacks):
    """A recompute before the day's feed lands reads usage through the day before, not zero."""
    day = yesterday_utc()
    rows = [
        {**GOOD, "date": (day - timedelta(days=n)).isoformat(), "value": "100"}
        for n in range(1, 60)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert run("json", rows).ok
    snapshot = HealthSnapshot.objects.get(account=acme, date=day)
    assert snapshot.facts["usage_through"] == (day - timedelta(days=1)).isoformat()
    assert [o["key"] for o in snapshot.overrides] == []  # no sharp drop from a missing day


def test_the_recompute_runs_only_after_the_import_commits(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert run("json", [GOOD]).ok
    assert HealthSnapshot.objects.count() == 0  # nothing ran inside the transaction
    for callback in callbacks:
        callback()
    assert list(HealthSnapshot.objects.values_list("account__external_id", "date")) == [
        ("acme", yesterday_utc())
    ]


# --- incidents -------------------------------------------------------------------------------

INCIDENT_HEADER = "key,kind,severity,started,resolved,datasets,chains,title"


def test_incident_resolved_before_started_is_an_error(db):
    csv = (
        f"{INCIDENT_HEADER}\n"
        "INC-1,accuracy,high,2026-03-01,,base.core.logs,,Fine\n"
        "INC-2,outage,high,2026-03-05,2026-03-01,,base,Backwards\n"
    ).encode()
    result = run_import("incidents", data=csv)
    assert [(e.row, e.column, e.message) for e in result.errors] == [
        (3, "resolved", "resolved 2026-03-01 is before started 2026-03-05")
    ]
    assert Incident.objects.count() == 0

    json_result = run_import(
        "incidents",
        json_rows=[
            {
                "key": "INC-2",
                "kind": "outage",
                "severity": "high",
                "started": "2026-03-05",
                "resolved": "2026-03-01",
            }
        ],
    )
    assert errors(json_result) == [(1, "resolved")]
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_incident_import_upserts_and_rescores_the_whole_book(django_capture_on_commit_callbacks):
    AccountFactory(external_id="a1")
    AccountFactory(external_id="a2")
    run_import(  # some usage has landed, so the book can be scored
        "usage", json_rows=[{**GOOD, "account": "a1", "date": yesterday_utc().isoformat()}]
    )
    csv = (
        f"{INCIDENT_HEADER}\n"
        "INC-9,freshness,medium,2026-03-01,,Base.Core.Logs;base.core.blocks,,Late logs\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = run_import("incidents", data=csv.encode())
    assert (result.stats.created, result.stats.updated) == (1, 0)
    inc = Incident.objects.get(key="INC-9")
    assert inc.datasets == ["base.core.blocks", "base.core.logs"]
    assert (inc.kind, inc.resolved, inc.title) == ("freshness", None, "Late logs")
    assert HealthSnapshot.objects.filter(date=yesterday_utc()).count() == Account.objects.count()

    again = run_import("incidents", data=csv.encode())
    assert (again.stats.created, again.stats.updated, again.stats.unchanged) == (0, 0, 1)
    resolved = run_import("incidents", data=csv.replace(",,Base", ",2026-03-04,Base").encode())
    assert (resolved.stats.created, resolved.stats.updated) == (0, 1)
    assert Incident.objects.get(key="INC-9").resolved == date(2026, 3, 4)
