"""One size limit (IMPORT_MAX_BYTES) at every door, checked before the body is read, and
reading that streams: the header of a big file is read without reading the file."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Account
from cs_portal import imports
from cs_portal.imports import run_import
from cs_portal.models import ImportRun

HEADER = b"external_id,name,segment,tier\n"
ROWS = b"".join(f"big-{i:05d},Big {i},self_serve,3\n".encode() for i in range(100))
TOO_BIG = (
    "the file is too large ({size}); imports take at most 1.0 KB. "
    "Split it into smaller files and import them one after another."
)


@pytest.fixture
def small_limit(settings):
    settings.IMPORT_MAX_BYTES = 1024


class CountingFile(io.BytesIO):
    """A file that remembers how many bytes were read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def test_command_refuses_a_file_over_the_limit_before_reading_it(small_limit, tmp_path, db):
    path = tmp_path / "accounts.csv"
    path.write_bytes(HEADER + ROWS)
    with pytest.raises(CommandError) as raised:
        call_command("import_data", "accounts", str(path))
    assert str(raised.value) == TOO_BIG.format(size=f"{len(HEADER + ROWS) / 1024:.1f} KB")
    assert Account.objects.count() == 0
    assert ImportRun.objects.count() == 0


def test_api_answers_413_for_a_body_over_the_limit(small_limit, client, maya_token):
    response = client.post(
        "/api/v1/import/accounts",
        data=HEADER + ROWS,
        content_type="text/csv",
        headers={"Authorization": f"Bearer {maya_token}"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_BIG.format(size=f"{len(HEADER + ROWS) / 1024:.1f} KB")}
    assert Account.objects.count() == 0
    assert ImportRun.objects.count() == 0


def test_api_json_over_the_limit_is_413_too(small_limit, client, maya_token):
    rows = [{"external_id": f"j-{i}", "name": "J", "segment": "self_serve"} for i in range(50)]

    body = json.dumps({"rows": rows}).encode()
    response = client.post(
        "/api/v1/import/accounts",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {maya_token}"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_BIG.format(size=f"{len(body) / 1024:.1f} KB")}
    assert Account.objects.count() == 0


@pytest.mark.parametrize("htmx", [False, True])
def test_upload_page_answers_413_with_the_message(small_limit, maya_client, settings, htmx):
    settings.IMPORT_ASYNC_BYTES = 100  # would otherwise run as a background job
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = maya_client.post(
        "/imports/",
        {"kind": "accounts", "file": SimpleUploadedFile("big.csv", HEADER + ROWS, "text/csv")},
        **headers,
    )
    assert response.status_code == 413
    assert "the file is too large" in response.text
    assert "imports take at most 1.0 KB" in response.text
    assert Account.objects.count() == 0
    assert ImportRun.objects.count() == 0


def test_a_stream_of_unknown_length_is_stopped_at_the_limit(small_limit, db):
    result = run_import("accounts", data=CountingFile(HEADER + ROWS), origin="api")
    assert not result.ok
    assert [e.as_dict() for e in result.errors] == [
        {
            "row": 0,
            "column": "",
            "message": "the file is too large (more than 1.0 KB); imports take at most 1.0 KB. "
            "Split it into smaller files and import them one after another.",
        }
    ]
    assert Account.objects.count() == 0
    assert ImportRun.objects.get().status == "rejected"


def test_a_bad_header_is_reported_without_reading_the_whole_file(db):
    body = b"external_id;name;segment;tier\n" + ROWS * 5000  # about 2.5 MB
    file = CountingFile(body)
    result = run_import("accounts", data=file, origin="cli")
    assert [e.message for e in result.errors] == [
        "the file is separated by semicolons, not commas; export it as comma-separated CSV"
    ]
    assert file.bytes_read < 128 * 1024


def test_an_unknown_column_is_reported_without_reading_the_whole_file(db):
    file = CountingFile(b"external_id,name,segment,colour\n" + ROWS * 5000)
    result = run_import("accounts", data=file, origin="cli")
    assert [(e.row, e.column) for e in result.errors] == [(1, "colour"), (1, "tier")]
    assert file.bytes_read < 128 * 1024


def test_a_file_object_imports_like_bytes(db):
    result = run_import("accounts", data=CountingFile(HEADER + ROWS), origin="cli")
    assert result.ok, result.errors
    assert Account.objects.filter(external_id__startswith="big-").count() == 100


def test_a_usage_file_streams_in_chunks_into_the_import(acme, monkeypatch):
    from health import usage_store
    from health.models import UsageFact

    monkeypatch.setattr(usage_store, "COPY_CHUNK", 8 * 1024)
    first = date(2010, 1, 1)
    lines = [f"acme,{first + timedelta(days=i)},queries,{i}\n" for i in range(2500)]
    file = CountingFile(("account,date,metric,value\n" + "".join(lines)).encode())
    assert len(file.getvalue()) > 64 * 1024
    largest = []
    read = file.read

    def spy(size=-1):
        chunk = read(size)
        largest.append(len(chunk))
        return chunk

    file.read = spy
    result = run_import("usage", data=file, origin="cli")
    assert result.ok, result.errors
    assert UsageFact.objects.filter(account=acme).count() == 2500
    # The header is looked for in the first 64 KB; the rest comes in chunks, never whole.
    assert max(largest, default=0) <= 64 * 1024 < len(file.getvalue())


# --- the row path works a chunk at a time ------------------------------------------------------


@pytest.fixture
def chunks_of_ten(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_ROWS", 10)
    kind = imports.get_kind("accounts")
    written: list[int] = []
    real = kind.write

    def write(rows, columns):
        written.append(len(rows))
        return real(rows, columns)

    monkeypatch.setattr(kind, "write", write)
    return written


def test_the_row_path_writes_a_chunk_at_a_time(db, chunks_of_ten):
    result = run_import("accounts", data=HEADER + ROWS[: ROWS.index(b"big-00035")])
    assert result.ok, result.errors
    assert (result.rows, result.stats.created) == (35, 35)
    assert chunks_of_ten == [10, 10, 10, 5]
    assert Account.objects.filter(external_id__startswith="big-").count() == 35


def test_a_bad_row_in_a_later_chunk_rolls_back_the_chunks_already_written(db, chunks_of_ten):
    result = run_import(
        "accounts", data=HEADER + ROWS[: ROWS.index(b"big-00025")] + b"bad-1,Bad,galaxy,3\n"
    )
    assert [(e.row, e.column) for e in result.errors] == [(result.rows + 1, "segment")]
    assert chunks_of_ten  # earlier chunks were written in the transaction ...
    assert Account.objects.count() == 0  # ... and rolled back with it
    assert (result.stats.created, ImportRun.objects.get().status) == (0, "rejected")


def test_a_key_repeated_in_a_later_chunk_is_still_a_duplicate(db, chunks_of_ten):
    result = run_import(
        "accounts",
        data=HEADER + ROWS[: ROWS.index(b"big-00030")] + b"big-00002,Again,self_serve,3\n",
    )
    assert [e.as_dict() for e in result.errors] == [
        {
            "row": result.rows + 1,
            "column": "external_id",
            "message": "duplicate of row 4 (big-00002); each key may appear once per import",
        }
    ]
    assert Account.objects.count() == 0


def test_usage_on_the_row_path_keeps_no_rows_for_its_hooks(acme, monkeypatch):
    from health import usage_store

    monkeypatch.setattr(imports, "CHUNK_ROWS", 10)
    monkeypatch.setattr(usage_store, "usage_copy_import", lambda *args: False)
    seen: list[int] = []
    kind = imports.get_kind("usage")
    real = kind.before_commit
    monkeypatch.setattr(
        kind, "before_commit", lambda rows, result: (seen.append(len(rows)), real(rows, result))
    )
    body = "account,date,metric,value\n" + "".join(
        f"acme,{date(2026, 1, 1) + timedelta(days=i)},queries,{i}\n" for i in range(25)
    )
    result = run_import("usage", data=body.encode())
    assert result.ok, result.errors
    assert seen == [0]  # the hook read result instead
    assert result.touched_accounts == {acme.pk}
    assert result.touched_days == {date(2026, 1, 1) + timedelta(days=i) for i in range(25)}


def test_a_body_of_unknown_length_is_spooled_only_up_to_the_limit(small_limit):
    with imports.spool_limited(io.BytesIO(HEADER), chunk=7) as spooled:
        assert spooled.read() == HEADER
    body = CountingFile(HEADER + ROWS)
    with pytest.raises(imports.ImportTooLarge):
        imports.spool_limited(body, chunk=256)
    assert body.bytes_read <= 1024 + 256  # stopped at the limit, not at the end of the body
