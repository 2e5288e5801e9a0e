"""The JSON API: token auth, OpenAPI at /api/v1/openapi.json. Apps add their own routers."""

from __future__ import annotations

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from accounts.permissions import can_import
from accounts.services import api_token_authenticate

from .errors import api_error
from .imports import ImportTooLarge, get_kind, import_request_check, run_import, spool_limited
from .params import control_character_error

logger = logging.getLogger(__name__)
# The longest query-string value or path segment any endpoint takes (ids, keys, filters, dates).
PARAM_MAX_LENGTH = 200


def _param_problem(request: HttpRequest) -> str:
    """Why the address cannot be served ("" when it can): a query value or the path holds a
    control character (PostgreSQL cannot compare with NUL) or a query value is too long."""
    for name, value in [("path", request.path), *request.GET.items()]:
        if problem := control_character_error(value):
            return f"{name} {problem}"
        if name != "path" and len(value) > PARAM_MAX_LENGTH:
            return f"{name} is longer than {PARAM_MAX_LENGTH} characters"
    return ""


class TokenAuth(HttpBearer):
    def __call__(self, request: HttpRequest):
        # Every operation authenticates first, before ninja reads its parameters: the one
        # place to refuse an unusable query for all endpoints, present and future.
        if problem := _param_problem(request):
            raise HttpError(400, problem)
        return super().__call__(request)

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


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    # The API's one error shape, {"detail": "..."}: each problem as "where: what".
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}: "
        f"{e.get('msg', 'invalid')}"
        for e in exc.errors
    ]
    return api.create_response(request, {"detail": "; ".join(problems)}, status=422)


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return api_error(request, 413)


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("API error on %s", request.path, exc_info=exc)
    return api_error(request, 500)


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
            except RecursionError:
                raise HttpError(400, "the JSON body is nested too deeply") from None
            if not isinstance(payload, dict) or "rows" not in payload:
                raise HttpError(400, 'expected a JSON object {"rows": [...]}')
            result = run_import(kind, json_rows=payload["rows"], origin="api", user=request.user)
        else:
            result = run_import(kind, data=body, origin="api", user=request.user)
    return Status(200 if result.ok else 400, result.as_dict())


def _register_routers() -> None:
    from accounts.api import router as accounts_router
    from cockpit.api import router as cockpit_router
    from datatrust.api import router as datatrust_router
    from expansion.api import router as expansion_router
    from health.api import router as health_router
    from playbooks.api import router as playbooks_router
    from qbr.api import router as qbr_router
    from voc.api import router as voc_router

    api.add_router("/", accounts_router)
    api.add_router("/", health_router)
    api.add_router("/", playbooks_router)
    api.add_router("/", datatrust_router)
    api.add_router("/", expansion_router)
    api.add_router("/", voc_router)
    api.add_router("/", qbr_router)
    api.add_router("/", cockpit_router)


_register_routers()
