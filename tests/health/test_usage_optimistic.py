"""PostgreSQL: a good usage file is written by constraints and set-based checks alone; only a
file the survey or the database refuses goes through the diagnostic pass, which names every
bad row exactly as before."""

from __future__ import annotations

import pytest
from django.db import connection

from cs_portal.imports import run_import
from health import usage_store
from health.models import UsageFact
from tests.health.test_usage_import import GOOD, KEY_COLUMNS, _month, errors, to_csv

pytestmark = [
    pytest.mark.usefixtures("eager_celery"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's"),
]


@pytest.fixture
def diagnosed(monkeypatch) -> list[int]:
    """How many times the diagnostic pass ran."""
    runs: list[int] = []
    real = usage_store._validate

    def spy(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(usage_store, "_validate", spy)
    return runs


@pytest.fixture
def statements():
    seen: list[str] = []

    def capture(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield seen


def test_a_good_file_and_its_reimport_skip_the_diagnostic_pass(acme, diagnosed):
    first = run_import("usage", data=to_csv(_month()))
    again = run_import("usage", data=to_csv(_month()))

    assert (first.stats.created, again.stats.unchanged) == (10, 10)
    assert diagnosed == []


def test_a_new_day_is_appended_without_conflict_handling(acme, statements):
    assert run_import("usage", data=to_csv(_month()[:5])).ok
    statements.clear()

    result = run_import("usage", data=to_csv(_month()[5:]))

    assert result.stats.created == 5
    assert not [s for s in statements if "ON CONFLICT" in s and "health_usagefact " in s]
    assert UsageFact.objects.count() == 10


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "'nan' is not a finite number"),
        ("inf", "'inf' is not a finite number"),
        ("1_000", "'1_000' is not a number"),
        ("-0", "'-0' is not a number"),
        ("1e400", "'1e400' is not a finite number"),
        ("", "required value is missing"),
    ],
)
def test_values_only_the_database_refuses_are_named_by_the_diagnostic_pass(
    acme, diagnosed, value, message
):
    result = run_import(
        "usage", data=to_csv([GOOD, {**GOOD, "date": "2026-03-02", "value": value}])
    )

    assert result.ok is False
    assert errors(result) == [(3, "value")]
    assert message in result.errors[0].message
    assert diagnosed == [1]
    assert UsageFact.objects.count() == 0


def test_a_key_given_twice_in_a_reimport_is_named(acme, diagnosed):
    rows = _month()
    assert run_import("usage", data=to_csv(rows)).ok

    result = run_import("usage", data=to_csv([*rows, rows[3]]))

    assert result.ok is False
    assert errors(result) == [(12, KEY_COLUMNS)]
    assert "duplicate of row 5" in result.errors[0].message
    assert diagnosed == [1]
