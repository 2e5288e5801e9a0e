"""The JSON API: token auth, OpenAPI at /api/v1/openapi.json. Apps add their own routers."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer

from accounts.permissions import can_import
from accounts.services import api_token_authenticate

from .imports import ImportTooLarge, get_kind, import_request_check, run_import, spool_limited


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_authenticate(raw=token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="CS Portal API",
    version="1",
    description="Import data, read health, alerts and plays. Authorization: Bearer <token> "
    "(create one at /settings/tokens/ or with `python manage.py create_api_token EMAIL`).",
    auth=TokenAuth(),
    urls_namespace="api",
)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    return api.create_response(
        request,
        {"detail": "Missing or invalid token. Send Authorization: Bearer <token>."},
        status=401,
    )


class RowErrorOut(Schema):
    row: int
    column: str
    message: str


class ImportOut(Schema):
    kind: str
    ok: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    errors: list[RowErrorOut]
    seconds: float


class ErrorOut(Schema):
    detail: str


@api.post(
    "/import/{kind}",
    response={
        200: ImportOut,
        400: ImportOut,
        403: ErrorOut,
        404: ErrorOut,
        413: ErrorOut,
        415: ErrorOut,
    },
    tags=["import"],
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"rows": {"type": "array", "items": {"type": "object"}}},
                    }
                },
            },
            "required": True,
        }
    },
)
def import_kind(request: HttpRequest, kind: str):
    """Import rows of one kind, all or nothing. CSV body (text/csv) or JSON {"rows": [...]}.

    A rejected import answers 400 with every bad row (row number, column, reason); a body
    over IMPORT_MAX_BYTES answers 413 and is not read.
    """
    if get_kind(kind) is None:
        return Status(404, {"detail": f"unknown import kind '{kind}'"})
    if not can_import(request.user):
        return Status(
            403, {"detail": "this token's user may not import data (managers and admins)"}
        )
    content_type = request.content_type or ""
    if content_type not in ("application/json", "text/csv", "text/plain", "application/csv"):
        return Status(415, {"detail": "send text/csv or application/json"})
    try:
        # Announced size first, then a counted read for a body of unknown length: the body
        # streams to a temporary file and is never held whole in memory.
        import_request_check(request)
        body = spool_limited(request)
    except ImportTooLarge as exc:
        return Status(413, {"detail": exc.message})
    with body:
        if content_type == "application/json":
            try:
                payload = json.load(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise HttpError(400, "the body is not valid JSON") from None
            if not isinstance(payload, dict) or "rows" not in payload:
                raise HttpError(400, 'expected a JSON object {"rows": [...]}')
            result = run_import(kind, json_rows=payload["rows"], origin="api", user=request.user)
        else:
            result = run_import(kind, data=body, origin="api", user=request.user)
    return Status(200 if result.ok else 400, result.as_dict())


def _register_routers() -> None:
    from accounts.api import router as accounts_router
    from datatrust.api import router as datatrust_router
    from health.api import router as health_router
    from playbooks.api import router as playbooks_router

    api.add_router("/", accounts_router)
    api.add_router("/", health_router)
    api.add_router("/", playbooks_router)
    api.add_router("/", datatrust_router)


_register_routers()
