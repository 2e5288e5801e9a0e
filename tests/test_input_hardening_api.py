"""The JSON API refuses unusable input with its own error shape, {"detail": "..."}: every query
parameter in the OpenAPI schema with a NUL byte or an oversized value, errors Django raises
before ninja runs, wrong methods, deep nesting, and JSON cells of the wrong type."""

from __future__ import annotations

import pytest
from django.test import Client

from cs_portal.api import api
from tests.conftest import table_counts
from tests.test_api import bearer, post_json


def _get_operations() -> list[tuple[str, str]]:
    """(path with its parameters filled in, query parameter) for every GET in the schema."""
    schema = api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        operation = methods.get("get")
        if operation is None:
            continue
        url = path
        for param in operation.get("parameters", []):
            if param["in"] == "path":
                url = url.replace("{" + param["name"] + "}", "acme")
        for param in operation.get("parameters", []):
            if param["in"] == "query":
                found.append((url, param["name"]))
    return found


GET_QUERY_PARAMS = _get_operations()


def test_the_schema_lists_the_query_parameters_checked_here():
    assert ("/api/v1/health", "csm") in GET_QUERY_PARAMS
    assert len(GET_QUERY_PARAMS) >= 20


@pytest.mark.parametrize(("value", "words"), [("a\x00b", "NUL"), ("x" * 5000, "longer than 200")])
@pytest.mark.parametrize(("url", "param"), GET_QUERY_PARAMS)
def test_every_query_parameter_refuses_nul_and_oversized_values(
    client, maya_token, acme, url, param, value, words
):
    response = client.get(url, {param: value}, headers=bearer(maya_token))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert words in response.json()["detail"]
    assert param in response.json()["detail"]


@pytest.mark.parametrize("csm", ["²", "\x00"])
def test_book_health_with_an_unreadable_csm_is_a_json_400(client, maya_token, csm):
    response = client.get("/api/v1/health", {"csm": csm}, headers=bearer(maya_token))
    assert response.status_code == 400
    assert "detail" in response.json()


def test_a_nul_in_the_path_is_a_json_400(client, maya_token):
    response = client.get("/api/v1/accounts/ac%00me", headers=bearer(maya_token))
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_an_unknown_address_is_a_json_404(client, maya_token):
    response = client.get("/api/v1/no-such-thing", headers=bearer(maya_token))
    assert response.status_code == 404
    assert response.json() == {
        "detail": "There is nothing at this address. See /api/v1/docs for the endpoints."
    }


def test_a_wrong_method_is_a_json_405(client, maya_token):
    response = client.delete("/api/v1/accounts", headers=bearer(maya_token))
    assert response.status_code == 405
    assert response.json() == {"detail": "This address takes GET, not DELETE."}
    assert response["Allow"] == "GET"


def test_a_too_large_body_is_a_json_413(client, maya_token, settings):
    # Imports stream their body and are limited by IMPORT_MAX_BYTES (not by Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE, which no longer reads it).
    settings.IMPORT_MAX_BYTES = 1000
    before = table_counts()
    rows = [{"external_id": f"a{i}", "name": "x" * 50} for i in range(50)]
    response = post_json(client, "accounts", {"rows": rows}, maya_token)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert table_counts() == before


def test_a_deeply_nested_body_is_a_json_400(client, maya_token):
    before = table_counts()
    response = client.post(
        "/api/v1/import/accounts",
        data='{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}",
        content_type="application/json",
        headers=bearer(maya_token),
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "the JSON body is nested too deeply"}
    assert table_counts() == before


def test_an_unexpected_error_is_a_json_500(maya_token, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("accounts.selectors.book_accounts", boom)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/accounts", headers=bearer(maya_token))
    assert response.status_code == 500
    assert "the error has been logged" in response.json()["detail"]


@pytest.mark.parametrize(("value", "shown"), [(["a", "b"], "a list"), ({"a": 1}, "an object")])
def test_a_list_or_object_in_a_scalar_column_is_a_row_error(client, maya_token, value, shown):
    before = table_counts()
    rows = [
        {"external_id": "ok-1", "name": "Fine", "segment": "institution", "tier": 2},
        {"external_id": "bad-1", "name": value, "segment": "institution", "tier": 2},
    ]
    response = post_json(client, "accounts", {"rows": rows}, maya_token)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 2,
            "column": "name",
            "message": f"{shown} where a single value (text, number or true/false) is expected",
        }
    ]
    assert table_counts() == before
