"""A row-path import finds a natural key repeated anywhere in the file without holding the
file's keys in memory: earlier chunks' keys sit in a temporary table inside the import's
transaction, which is gone when the import is over, whatever its outcome."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import date

import pytest
from django.db import connection

from accounts.models import Account
from cs_portal import imports
from cs_portal.imports import ImportRejected, RowError, run_import
from cs_portal.models import ImportRun
from health import usage_store
from health.models import UsageFact

HEADER = b"external_id,name,segment,tier\n"


def account_rows(first: int, last: int) -> bytes:
    """Lines for accounts key-<first> .. key-<last - 1>; line n of the file is key n - 2."""
    return b"".join(f"key-{i:04d},Key {i},self_serve,3\n".encode() for i in range(first, last))


def duplicate(row: int, first: int, shown: str) -> dict:
    return {
        "row": row,
        "column": "external_id",
        "message": f"duplicate of row {first} ({shown}); each key may appear once per import",
    }


def key_tables() -> list[str]:
    """The import key tables this connection can see."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
                "AND relname LIKE 'import_keys_%%'"
            )
        else:
            cursor.execute("SELECT name FROM sqlite_temp_master WHERE name LIKE 'import_keys_%%'")
        return [name for (name,) in cursor.fetchall()]


@pytest.fixture
def chunks_of_ten(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 10)
    kind = imports.get_kind("accounts")
    written: list[list[int]] = []
    real = kind.write

    def write(rows, columns):
        written.append([r.number for r in rows])
        assert key_tables()  # past the first chunk the keys are in the database
        return real(rows, columns)

    monkeypatch.setattr(kind, "write", write)
    return written


def test_a_key_from_an_earlier_chunk_is_reported_with_both_rows(db, chunks_of_ten):
    # key-0003 is line 5, in the first chunk; lines 22 and 25 repeat it in the third.
    body = HEADER + account_rows(0, 20) + b"key-0003,Again,self_serve,3\n"
    body += account_rows(20, 22) + b"key-0003,Thrice,self_serve,3\n" + account_rows(22, 30)
    result = run_import("accounts", data=body)
    assert [e.as_dict() for e in result.errors] == [
        duplicate(22, 5, "key-0003"),
        duplicate(25, 5, "key-0003"),
    ]
    assert chunks_of_ten[0] == list(range(2, 12))  # written before the repeat was read ...
    assert Account.objects.count() == 0  # ... and rolled back with the rejected import
    assert ImportRun.objects.get().status == "rejected"
    assert key_tables() == []


def test_a_key_repeated_within_one_chunk_is_reported_against_its_first_row(db, chunks_of_ten):
    body = HEADER + account_rows(0, 3) + b"key-0001,Again,self_serve,3\n" + account_rows(3, 5)
    result = run_import("accounts", data=body)
    assert [e.as_dict() for e in result.errors] == [duplicate(5, 3, "key-0001")]
    assert Account.objects.count() == 0
    assert key_tables() == []


def test_duplicates_and_bad_cells_are_listed_top_to_bottom(db, chunks_of_ten):
    body = (
        HEADER
        + account_rows(0, 12)
        + b"key-0002,Again,self_serve,3\n"  # line 14, a repeat of line 4
        + b"key-0100,Bad,galaxy,3\n"  # line 15
        + b"key-0013,Again,self_serve,3\n"  # line 16, first seen ...
        + b"key-0013,Again,self_serve,3\n"  # ... and repeated on line 17
    )
    result = run_import("accounts", data=body)
    assert [(e.row, e.column) for e in result.errors] == [
        (14, "external_id"),
        (15, "segment"),
        (17, "external_id"),
    ]
    assert result.errors[0].message.startswith("duplicate of row 4 (key-0002)")
    assert result.errors[2].message.startswith("duplicate of row 16 (key-0013)")


def test_a_clean_file_of_many_chunks_is_written_and_leaves_no_table(db, chunks_of_ten):
    result = run_import("accounts", data=HEADER + account_rows(0, 35))
    assert result.ok, result.errors
    assert [len(chunk) for chunk in chunks_of_ten] == [10, 10, 10, 5]
    assert Account.objects.count() == 35
    assert key_tables() == []


def test_a_failure_after_the_first_chunk_writes_nothing_and_leaves_no_table(
    db, chunks_of_ten, monkeypatch
):
    kind = imports.get_kind("accounts")
    counting = kind.write

    def write(rows, columns):
        stats = counting(rows, columns)
        if len(chunks_of_ten) == 2:
            raise ImportRejected([RowError(rows[0].number, "name", "refused by the kind")])
        return stats

    monkeypatch.setattr(kind, "write", write)
    result = run_import("accounts", data=HEADER + account_rows(0, 35))
    assert [e.as_dict() for e in result.errors] == [
        {"row": 12, "column": "name", "message": "refused by the kind"}
    ]
    assert Account.objects.count() == 0
    assert key_tables() == []


def test_an_import_that_crashes_leaves_no_table(db, chunks_of_ten, monkeypatch):
    kind = imports.get_kind("accounts")
    counting = kind.write

    def write(rows, columns):
        stats = counting(rows, columns)
        if len(chunks_of_ten) == 2:
            raise RuntimeError("disk on fire")
        return stats

    monkeypatch.setattr(kind, "write", write)
    with pytest.raises(RuntimeError):
        run_import("accounts", data=HEADER + account_rows(0, 35))
    assert Account.objects.count() == 0
    assert ImportRun.objects.get().status == "failed"
    assert key_tables() == []


def test_a_small_file_makes_no_key_table(db, monkeypatch):
    made: list[str] = []
    monkeypatch.setattr(imports.SeenKeys, "add", lambda self, firsts: made.append(self.table))
    result = run_import("accounts", data=HEADER + account_rows(0, 5))
    assert result.ok, result.errors
    assert made == []


def test_the_key_index_in_memory_does_not_grow_with_the_file(acme, monkeypatch):
    """Before, every row left a hash and a row number (about 100 bytes) behind for the rest
    of the import: 9,000 rows past the second chunk would have added about 900 KB."""
    monkeypatch.setattr(imports, "CHUNK_ROWS", 500)
    monkeypatch.setattr(usage_store, "usage_copy_import", lambda *args: False)
    kind = imports.get_kind("usage")
    traced: list[int] = []
    real = kind.chunk_written

    def chunk_written(rows, result):
        real(rows, result)
        gc.collect()
        traced.append(tracemalloc.get_traced_memory()[0])

    monkeypatch.setattr(kind, "chunk_written", chunk_written)
    # Every row a new key on the same day, so nothing the hooks keep (days, accounts) grows.
    body = "account,date,metric,value,dataset\n" + "".join(
        f"acme,2026-01-01,queries,{i},eth.s.t{i}\n" for i in range(10_000)
    )
    tracemalloc.start()
    try:
        result = run_import("usage", data=body.encode())
    finally:
        tracemalloc.stop()
    assert result.ok, result.errors
    assert UsageFact.objects.filter(date=date(2026, 1, 1)).count() == 10_000
    assert len(traced) == 20
    grown = traced[-1] - traced[1]
    assert grown < 300_000, f"{grown:,} bytes more after 20 chunks than after 2"
