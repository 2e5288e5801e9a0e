"""external_id and incident keys keep to the identifier alphabet at import; an account stored
before with an odd id (a `/` in it) still renders and links on every page that lists it."""

from __future__ import annotations

import pytest

from cs_portal.imports import run_import
from tests.conftest import table_counts
from tests.factories import AccountFactory


@pytest.mark.parametrize(
    ("kind", "csv"),
    [
        (
            "accounts",
            "external_id,name,segment,tier\nok-1,Fine,institution,2\na/b,Slash,institution,2\n",
        ),
        (
            "incidents",
            "key,kind,severity,started\nINC-1,outage,low,2026-01-01\nINC/2,outage,low,2026-01-01\n",
        ),
    ],
)
def test_an_identifier_outside_the_alphabet_is_refused_with_its_row(db, kind, csv):
    before = table_counts()
    result = run_import(kind, data=csv.encode(), origin="test")
    assert not result.ok
    column = "external_id" if kind == "accounts" else "key"
    bad = "a/b" if kind == "accounts" else "INC/2"
    assert [(e.row, e.column, e.message) for e in result.errors] == [
        (
            3,
            column,
            f"'{bad}' is not an identifier: use 1-64 letters, digits, '-', '_', '.' or ':' "
            "(not starting with '-', '.' or ':')",
        )
    ]
    assert table_counts() == before


@pytest.mark.parametrize("value", ["acme:eu.2", "A_1", "x" * 64])
def test_identifiers_in_the_alphabet_import(db, value):
    csv = f"external_id,name,segment,tier\n{value},Fine,institution,2\n"
    assert run_import("accounts", data=csv.encode(), origin="test").ok


def test_an_old_account_with_a_slash_in_its_id_renders_and_links(maya_client, alice):
    AccountFactory(external_id="legacy/7", name="Legacy Seven", csm=alice)
    book = maya_client.get("/book/?csm=all")
    assert book.status_code == 200
    assert 'href="/accounts/legacy/7/"' in book.content.decode()
    for suffix in ("", "health/", "plays/", "success/"):
        response = maya_client.get(f"/accounts/legacy/7/{suffix}")
        assert response.status_code == 200, suffix
        assert "Legacy Seven" in response.content.decode()
